/// The image store.
public enum ImageStoreModule {}
