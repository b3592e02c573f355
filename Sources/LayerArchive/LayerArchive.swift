/// Applies and writes OCI layer tars with libarchive.
public enum LayerArchive {}
