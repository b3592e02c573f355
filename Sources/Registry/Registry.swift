/// Registry client.
public enum RegistryModule {}
