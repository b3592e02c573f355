/// The runtime core.
public enum ContainerRuntimeModule {}
