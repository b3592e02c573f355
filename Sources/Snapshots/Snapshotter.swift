/// The overlayfs snapshotter.
public enum SnapshotsModule {}
