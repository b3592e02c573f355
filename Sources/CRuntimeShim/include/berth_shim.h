// berth's runtime shim: the only code that runs between clone and exec.
//
// Everything here is C, allocation-free and async-signal-safe: the Swift side prepares a
// `berth_spawn_config` (mount table, devices, capability masks, ids, argv, envp, seccomp BPF)
// before calling `berth_spawn`, and the child only follows it.
#pragma once

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

// Linux ABI constants Swift's Glibc module hides behind _GNU_SOURCE.
#define BERTH_CLONE_NEWNS 0x00020000
#define BERTH_CLONE_NEWCGROUP 0x02000000
#define BERTH_CLONE_NEWUTS 0x04000000
#define BERTH_CLONE_NEWIPC 0x08000000
#define BERTH_CLONE_NEWUSER 0x10000000
#define BERTH_CLONE_NEWPID 0x20000000
#define BERTH_CLONE_NEWNET 0x40000000
#define BERTH_O_PATH 010000000

/// pipe2(fds, O_CLOEXEC).
int berth_pipe(int fds[2]);

/// bpf(cmd, attr, size): -1 with errno on failure (Swift cannot call the variadic syscall()).
int berth_bpf(int cmd, void *attr, unsigned int size);

/// What a mount entry does.
enum berth_mount_kind {
    BERTH_MOUNT_PLAIN = 0,    ///< mount(source, target, fstype, flags, data)
    BERTH_MOUNT_BIND = 1,     ///< bind source onto target; read-only when flags has MS_RDONLY
    BERTH_MOUNT_MASK = 2,     ///< hide target: /dev/null over a file, an empty read-only tmpfs over a directory
    BERTH_MOUNT_READONLY = 3, ///< bind target onto itself, then remount it read-only
};

/// One mount; `target` is relative to the container root and resolved inside it.
struct berth_mount {
    const char *source;
    const char *target;
    const char *fstype;
    const char *data;
    unsigned long flags;
    int kind;
    /// 1: create the target directory first (for targets inside a fresh tmpfs such as /dev/pts).
    int create_directory;
};

/// A device node or symlink created in the container's /dev after its tmpfs is mounted.
struct berth_device {
    const char *name;      ///< relative to /dev
    const char *link;      ///< non-NULL: create a symlink to this target instead of a node
    unsigned int mode;     ///< S_IFCHR | permissions
    unsigned int major;
    unsigned int minor;
};

/// A resource limit set before exec (setrlimit).
struct berth_rlimit {
    int resource;          ///< RLIMIT_*
    unsigned long long soft;
    unsigned long long hard;
};

struct berth_spawn_config {
    const char *root;              ///< host path of the container's root (already mounted)
    int clone_flags;               ///< CLONE_NEW* flags
    const char *hostname;
    const struct berth_mount *mounts;
    int mount_count;
    const struct berth_device *devices;
    int device_count;
    const char *cwd;
    char *const *argv;
    char *const *envp;
    const char *search_path;       ///< PATH used to find argv[0] inside the container
    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    int group_count;
    uint64_t cap_bounding;
    uint64_t cap_effective;
    uint64_t cap_permitted;
    int no_new_privileges;
    const void *seccomp_filter;    ///< struct sock_filter array, or NULL for unconfined
    unsigned short seccomp_length; ///< number of sock_filter instructions
    int readonly_root;
    int loopback_up;               ///< bring `lo` up (private network namespace)
    int stdin_fd, stdout_fd, stderr_fd; ///< dup'ed onto 0, 1, 2 (-1: keep berth's)
    int cgroup_namespace;          ///< enter a new cgroup namespace once placed in the cgroup
    int sync_fd;                   ///< the child waits for one byte here (parent joined it to its cgroups)
    int error_fd;                  ///< O_CLOEXEC: the child writes a berth_child_error here on failure
    int terminal;                  ///< stdin is a pty slave: new session, make it the controlling terminal
    int run_init;                  ///< `--init`: pid 1 stays a tiny init that forwards signals and reaps
    const struct berth_rlimit *rlimits;
    int rlimit_count;
    /// berth_spawn_into only: namespace descriptors of a running container to join (setns),
    /// and a pipe the intermediate process writes the final process's pid to.
    const int *join_namespaces;
    int join_count;
    int report_fd;
    /// 1: after setting up its mounts the child enters a new user namespace, writes a byte to
    /// `userns_ready_fd` and waits for a second byte on `sync_fd` (its id maps are written).
    int user_namespace;
    int userns_ready_fd;
};

/// What the child reports when it cannot reach exec.
struct berth_child_error {
    int step;   ///< enum berth_step
    int error;  ///< errno
    char detail[128];
};

enum berth_step {
    BERTH_STEP_SYNC = 1, BERTH_STEP_HOSTNAME, BERTH_STEP_PROPAGATION, BERTH_STEP_ROOT, BERTH_STEP_MOUNT,
    BERTH_STEP_DEVICE, BERTH_STEP_PIVOT, BERTH_STEP_NETWORK, BERTH_STEP_SECCOMP, BERTH_STEP_CAPABILITIES,
    BERTH_STEP_USER, BERTH_STEP_CWD, BERTH_STEP_EXEC_NOT_FOUND, BERTH_STEP_EXEC_DENIED, BERTH_STEP_EXEC,
    BERTH_STEP_STDIO,
};

/// Clones a child in new namespaces that sets itself up from `config` and execs.
/// Returns the child's pid (in berth's pid namespace), or -1 with errno set.
pid_t berth_spawn(const struct berth_spawn_config *config);

/// berth_spawn with clone3(CLONE_INTO_CGROUP): the child is created inside the cgroup v2
/// directory `cgroup_fd`. -1 with errno ENOSYS or E2BIG where the kernel lacks it.
pid_t berth_spawn_in_cgroup(const struct berth_spawn_config *config, int cgroup_fd);

/// Starts a process inside a running container (`exec`): an intermediate child joins the
/// namespaces in `config->join_namespaces` and clones the final process as berth's own child
/// (CLONE_PARENT), so it lands in the container's pid namespace; that process writes its pid
/// to `report_fd`'s pipe through the intermediate, waits on `sync_fd`, then applies seccomp,
/// capabilities, user and working directory and execs. Returns the intermediate's pid.
pid_t berth_spawn_into(const struct berth_spawn_config *config);

/// Opens a new pseudo-terminal pair (both ends close-on-exec; the slave not yet anyone's
/// controlling terminal). Returns 0, or -1 with errno set.
int berth_open_pty(int *master, int *slave);

/// Copies the window size of terminal `from` to terminal `to` (0 on success).
int berth_copy_window_size(int from, int to);

/// Sets a window size on terminal `fd` (0 on success).
int berth_set_window_size(int fd, unsigned short rows, unsigned short columns);

/// Puts terminal `fd` in raw mode, saving the old settings into `saved` (a `struct termios`,
/// `berth_termios_size` bytes); `berth_restore_terminal` puts them back.
int berth_make_raw(int fd, void *saved);
int berth_restore_terminal(int fd, const void *saved);
extern const int berth_termios_size;

/// Opens `path` inside the directory `root_fd` as if it were `/` (openat2 RESOLVE_IN_ROOT):
/// symlinks cannot lead out of it. Retries the kernel's EAGAIN (a concurrent rename or mount).
/// Returns a descriptor or -1 with errno set.
int berth_open_in_root(int root_fd, const char *path, int flags, unsigned int mode);

/// The highest capability number the running kernel knows.
int berth_last_capability(void);

#ifdef __cplusplus
}
#endif
