/// The build engine.
public enum BuildEngineModule {}
