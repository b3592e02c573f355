// berth's runtime shim: clone → set up the container → exec.
//
// The Swift runtime is multithreaded, so nothing after clone may allocate, lock or call into
// Swift. The child below only makes system calls, driven by a berth_spawn_config that Swift
// filled in beforehand. Steps are numbered in the order they happen, like crun's linux.c.

#define _GNU_SOURCE
#include "berth_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

// ---------------------------------------------------------------------------------------------
// Small helpers usable after clone: no allocation, no stdio.

/// Writes the failure record to the error pipe and exits; the parent turns it into a
/// RuntimeError naming the step.
static void fail(const struct berth_spawn_config *c, int step, const char *detail) {
    struct berth_child_error record;
    memset(&record, 0, sizeof record);
    record.step = step;
    record.error = errno;
    if (detail) {
        size_t i = 0;
        for (; detail[i] && i < sizeof record.detail - 1; i++) record.detail[i] = detail[i];
    }
    ssize_t ignored = write(c->error_fd, &record, sizeof record);
    (void)ignored;
    _exit(127);
}

/// "/proc/self/fd/<fd>" into `buffer` (32 bytes), for mounting onto an already-resolved target.
static const char *fd_path(int fd, char *buffer) {
    const char *prefix = "/proc/self/fd/";
    int n = 0;
    while (prefix[n]) { buffer[n] = prefix[n]; n++; }
    char digits[12];
    int d = 0;
    do { digits[d++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
    while (d > 0) buffer[n++] = digits[--d];
    buffer[n] = 0;
    return buffer;
}

int berth_open_in_root(int root_fd, const char *path, int flags, unsigned int mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)flags | O_CLOEXEC;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    // openat2 answers EAGAIN when a rename or mount anywhere on the system raced with a
    // ".." step of the resolution (it cannot then prove the result stays inside the root);
    // the kernel's advice is to try again.
    for (int attempt = 0;; attempt++) {
        int fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN || attempt == 255) return fd;
    }
}

int berth_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int berth_bpf(int cmd, void *attr, unsigned int size) {
    return (int)syscall(SYS_bpf, cmd, attr, size);
}

int berth_last_capability(void) {
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return CAP_LAST_CAP;
    char buffer[16] = {0};
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    int value = 0;
    for (ssize_t i = 0; i < n && buffer[i] >= '0' && buffer[i] <= '9'; i++) value = value * 10 + (buffer[i] - '0');
    return value > 0 ? value : CAP_LAST_CAP;
}

/// Opens the parent directory of `target` inside the root and creates `target` as a directory.
static int make_directory_in_root(int root_fd, const char *target) {
    char parent[4096];
    size_t length = strlen(target);
    if (length >= sizeof parent) { errno = ENAMETOOLONG; return -1; }
    memcpy(parent, target, length + 1);
    char *slash = strrchr(parent, '/');
    const char *name = target;
    int dir;
    if (slash) {
        *slash = 0;
        name = slash + 1;
        dir = berth_open_in_root(root_fd, parent, O_PATH | O_DIRECTORY, 0);
    } else {
        dir = dup(root_fd);
    }
    if (dir < 0) return -1;
    int rc = mkdirat(dir, name, 0755);
    close(dir);
    return (rc == 0 || errno == EEXIST) ? 0 : -1;
}

/// The flags of the mount `fd` lies on that a remount must repeat: inside a user namespace the
/// kernel locks nosuid, nodev, noexec and the atime mode of a mount inherited from the host, and
/// a bind remount that drops them fails with EPERM (runc repeats them the same way).
static unsigned long inherited_flags(int fd) {
    struct statfs st;
    if (fstatfs(fd, &st) != 0) return 0;
    unsigned long flags = 0;
    if (st.f_flags & ST_NOSUID) flags |= MS_NOSUID;
    if (st.f_flags & ST_NODEV) flags |= MS_NODEV;
    if (st.f_flags & ST_NOEXEC) flags |= MS_NOEXEC;
    if (st.f_flags & ST_NOATIME) flags |= MS_NOATIME;
    if (st.f_flags & ST_NODIRATIME) flags |= MS_NODIRATIME;
    if (st.f_flags & ST_RELATIME) flags |= MS_RELATIME;
    return flags;
}

// ---------------------------------------------------------------------------------------------
// Child steps.

/// Step 4–5: every mount of the table, each onto a target resolved inside the root and passed
/// as /proc/self/fd/N, so a symlink swapped in later cannot redirect it (CVE-2021-30465).
static void mount_all(const struct berth_spawn_config *c, int root_fd) {
    char path[32];
    for (int i = 0; i < c->mount_count; i++) {
        const struct berth_mount *m = &c->mounts[i];
        if (m->create_directory && make_directory_in_root(root_fd, m->target) != 0) fail(c, BERTH_STEP_MOUNT, m->target);
        int target = berth_open_in_root(root_fd, m->target, O_PATH, 0);
        if (target < 0) {
            // Masks and read-only binds of paths the kernel does not have are skipped, as runc does.
            if (errno == ENOENT && (m->kind == BERTH_MOUNT_MASK || m->kind == BERTH_MOUNT_READONLY)) continue;
            fail(c, BERTH_STEP_MOUNT, m->target);
        }
        int rc = 0;
        switch (m->kind) {
        case BERTH_MOUNT_PLAIN:
            rc = mount(m->source, fd_path(target, path), m->fstype, m->flags, m->data);
            break;
        case BERTH_MOUNT_BIND:
            rc = mount(m->source, fd_path(target, path), NULL, MS_BIND | MS_REC, NULL);
            if (rc == 0 && (m->flags & MS_RDONLY)) {
                // A bind mount takes its flags only on a remount of the new mount: reopen it.
                close(target);
                target = berth_open_in_root(root_fd, m->target, O_PATH, 0);
                rc = target < 0 ? -1
                    : mount(NULL, fd_path(target, path), NULL,
                            MS_REMOUNT | MS_BIND | m->flags | inherited_flags(target), NULL);
            }
            break;
        case BERTH_MOUNT_MASK: {
            struct stat st;
            if (fstat(target, &st) != 0) { rc = -1; break; }
            if (S_ISDIR(st.st_mode))
                rc = mount("tmpfs", fd_path(target, path), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0");
            else
                rc = mount("/dev/null", fd_path(target, path), NULL, MS_BIND, NULL);
            break;
        }
        case BERTH_MOUNT_READONLY:
            rc = mount(fd_path(target, path), fd_path(target, path), NULL, MS_BIND | MS_REC, NULL);
            if (rc == 0) {
                close(target);
                target = berth_open_in_root(root_fd, m->target, O_PATH, 0);
                rc = target < 0 ? -1
                    : mount(NULL, fd_path(target, path), NULL,
                            MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | inherited_flags(target),
                            NULL);
            }
            break;
        }
        if (rc != 0) fail(c, BERTH_STEP_MOUNT, m->target);
        if (target >= 0) close(target);
        // Devices go into /dev right after its tmpfs is mounted.
        if (m->kind == BERTH_MOUNT_PLAIN && strcmp(m->target, "dev") == 0) {
            umask(0);  // device modes exactly as given
            int dev = berth_open_in_root(root_fd, "dev", O_PATH | O_DIRECTORY, 0);
            if (dev < 0) fail(c, BERTH_STEP_DEVICE, "dev");
            for (int d = 0; d < c->device_count; d++) {
                const struct berth_device *n = &c->devices[d];
                int r = n->link ? symlinkat(n->link, dev, n->name)
                                : mknodat(dev, n->name, n->mode, makedev(n->major, n->minor));
                if (r != 0 && errno != EEXIST) fail(c, BERTH_STEP_DEVICE, n->name);
            }
            close(dev);
        }
    }
}

/// Step 8: the loopback interface of a private network namespace.
static void loopback_up(const struct berth_spawn_config *c) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) fail(c, BERTH_STEP_NETWORK, "socket");
    struct ifreq request;
    memset(&request, 0, sizeof request);
    memcpy(request.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &request) != 0) fail(c, BERTH_STEP_NETWORK, "lo");
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &request) != 0) fail(c, BERTH_STEP_NETWORK, "lo up");
    close(s);
}

/// Step 10: capabilities. Bounding set first (needs CAP_SETPCAP, which root still has), then
/// the user switch keeping permitted capabilities, then the final sets. A non-root user ends
/// with empty permitted and effective sets, as with docker.
static void drop_capabilities(const struct berth_spawn_config *c) {
    int last = berth_last_capability();
    for (int cap = 0; cap <= last; cap++) {
        if (!(c->cap_bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            fail(c, BERTH_STEP_CAPABILITIES, "bounding set");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        fail(c, BERTH_STEP_CAPABILITIES, "ambient set");
}

static void set_capabilities(const struct berth_spawn_config *c, uint64_t effective, uint64_t permitted) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    data[0].effective = (uint32_t)effective;
    data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted;
    data[1].permitted = (uint32_t)(permitted >> 32);
    if (syscall(SYS_capset, &header, data) != 0) fail(c, BERTH_STEP_CAPABILITIES, "capset");
}

/// Step 11: groups, gid, uid (with PR_SET_KEEPCAPS so the final capset decides).
static void switch_user(const struct berth_spawn_config *c) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) fail(c, BERTH_STEP_USER, "keepcaps");
    if (syscall(SYS_setgroups, (size_t)c->group_count, c->groups) != 0) fail(c, BERTH_STEP_USER, "setgroups");
    if (syscall(SYS_setresgid, c->gid, c->gid, c->gid) != 0) fail(c, BERTH_STEP_USER, "setgid");
    if (syscall(SYS_setresuid, c->uid, c->uid, c->uid) != 0) fail(c, BERTH_STEP_USER, "setuid");
    if (c->uid == 0)
        set_capabilities(c, c->cap_effective, c->cap_permitted);
    else
        set_capabilities(c, 0, 0);
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

/// execve, retried briefly on ETXTBSY: another process cloned from berth may hold the binary
/// open for writing for the few microseconds before it closes its inherited descriptors.
static void exec_retrying(const char *path, char *const *argv, char *const *envp) {
    for (int attempt = 0; attempt < 50; attempt++) {
        execve(path, argv, envp);
        if (errno != ETXTBSY) return;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
}

/// Step 13: execve argv[0], searching PATH inside the container when it has no slash.
static void exec_command(const struct berth_spawn_config *c) {
    const char *file = c->argv[0];
    if (strchr(file, '/')) {
        exec_retrying(file, c->argv, c->envp);
        fail(c, errno == ENOENT ? BERTH_STEP_EXEC_NOT_FOUND : (errno == EACCES ? BERTH_STEP_EXEC_DENIED : BERTH_STEP_EXEC), file);
    }
    char candidate[4096];
    size_t name_length = strlen(file);
    int denied = 0;
    const char *p = c->search_path;
    while (p && *p) {
        const char *end = strchr(p, ':');
        size_t length = end ? (size_t)(end - p) : strlen(p);
        if (length + name_length + 2 < sizeof candidate) {
            size_t n = 0;
            if (length == 0) candidate[n++] = '.';
            for (size_t i = 0; i < length; i++) candidate[n++] = p[i];
            candidate[n++] = '/';
            memcpy(candidate + n, file, name_length + 1);
            exec_retrying(candidate, c->argv, c->envp);
            if (errno == EACCES) denied = 1;
        }
        if (!end) break;
        p = end + 1;
    }
    errno = denied ? EACCES : ENOENT;
    fail(c, denied ? BERTH_STEP_EXEC_DENIED : BERTH_STEP_EXEC_NOT_FOUND, file);
}

/// Step 0: close every descriptor this child inherited except the ones it needs. The clone
/// copied berth's whole descriptor table, including files other threads are writing (a layer,
/// a copied binary): holding those open could make another container's exec fail with ETXTBSY.
static void close_inherited(const struct berth_spawn_config *c) {
    int keep[10 + 8];
    int n = 0;
    int candidates[10 + 8] = {0, 1, 2, c->sync_fd, c->error_fd, c->stdin_fd, c->stdout_fd, c->stderr_fd, c->report_fd,
                              c->userns_ready_fd};
    int count = 10;
    for (int i = 0; i < c->join_count && i < 8; i++) candidates[count++] = c->join_namespaces[i];
    for (int i = 0; i < count; i++) {
        int fd = candidates[i];
        if (fd < 0) continue;
        int seen = 0;
        for (int j = 0; j < n; j++) if (keep[j] == fd) seen = 1;
        if (!seen) keep[n++] = fd;
    }
    // Insertion sort: a handful of entries.
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) { int t = keep[j]; keep[j] = keep[j - 1]; keep[j - 1] = t; }
    int next = 0;
    for (int i = 0; i < n; i++) {
        if (keep[i] > next) syscall(SYS_close_range, next, keep[i] - 1, 0);
        next = keep[i] + 1;
    }
    syscall(SYS_close_range, next, ~0U, 0);
}

/// Step 0b: the command starts with every signal unblocked and at its default action. The
/// cloning thread may block signals (the Swift runtime's worker threads do) and berth ignores
/// SIGPIPE; exec keeps both, and a container must not inherit either.
static void reset_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &action, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/// Step 2 (shared with exec): dup the given descriptors onto 0, 1 and 2; for `-t`, start a new
/// session and take the pty slave on stdin as the controlling terminal.
static void standard_streams(const struct berth_spawn_config *c) {
    if ((c->stdin_fd >= 0 && dup2(c->stdin_fd, 0) < 0) || (c->stdout_fd >= 0 && dup2(c->stdout_fd, 1) < 0) ||
        (c->stderr_fd >= 0 && dup2(c->stderr_fd, 2) < 0))
        fail(c, BERTH_STEP_STDIO, NULL);
    if (c->terminal) {
        if (setsid() < 0) fail(c, BERTH_STEP_STDIO, "setsid");
        if (ioctl(0, TIOCSCTTY, 0) != 0) fail(c, BERTH_STEP_STDIO, "controlling terminal");
    }
}

/// Step 12 (shared with exec): resource limits, then the working directory, which must lie
/// inside the root (CVE-2024-21626: a leaked directory descriptor could otherwise point outside).
static void limits_and_cwd(const struct berth_spawn_config *c) {
    for (int i = 0; i < c->rlimit_count; i++) {
        struct rlimit limit = {c->rlimits[i].soft, c->rlimits[i].hard};
        if (setrlimit(c->rlimits[i].resource, &limit) != 0) fail(c, BERTH_STEP_USER, "setrlimit");
    }
    if (chdir(c->cwd) != 0) fail(c, BERTH_STEP_CWD, c->cwd);
    char cwd[4096];
    long length = syscall(SYS_getcwd, cwd, sizeof cwd);
    if (length <= 0 || cwd[0] != '/') { errno = ENOENT; fail(c, BERTH_STEP_CWD, "working directory is outside the root"); }
}

/// Step 9–11 (shared with exec): no_new_privs and seccomp while CAP_SYS_ADMIN is still held,
/// then capabilities and user.
static void confine(const struct berth_spawn_config *c) {
    if (c->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(c, BERTH_STEP_SECCOMP, "no_new_privs");
    if (c->seccomp_filter) {
        struct sock_fprog program = {c->seccomp_length, (struct sock_filter *)c->seccomp_filter};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) fail(c, BERTH_STEP_SECCOMP, NULL);
    }
    drop_capabilities(c);
    switch_user(c);
}

/// `--init`: pid 1 forks the command and stays behind as a minimal init (like docker's tini):
/// every signal it gets is forwarded to the command, every orphan that dies is reaped, and it
/// exits with the command's status (128+signal when the command was killed). It stays
/// non-dumpable, so nothing in the container can open its memory or its executable.
static void run_init(const struct berth_spawn_config *c) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    pid_t command = fork();
    if (command < 0) fail(c, BERTH_STEP_EXEC, "fork for --init");
    if (command == 0) {
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        setpgid(0, 0);
        exec_command(c);
    }
    // berth waits for EOF on the error pipe: only the command's copy may keep it open.
    close(c->error_fd);
    prctl(PR_SET_NAME, "init", 0, 0, 0);
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            kill(command, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid != command) continue;
            if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
            _exit(128 + WTERMSIG(status));
        }
    }
}

static int child_main(const struct berth_spawn_config *c) {
    close_inherited(c);
    reset_signals();
    // Step 1: die with berth (PR_SET_PDEATHSIG), and wait until the parent has put us into
    // our cgroups, so nothing runs outside its limits.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    // Not dumpable until exec: nothing in the container may open this process's memory or
    // /proc/<pid>/exe, which is still berth's binary until exec replaces it (CVE-2019-5736).
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    char go;
    if (read(c->sync_fd, &go, 1) != 1) fail(c, BERTH_STEP_SYNC, NULL);
    if (!c->user_namespace) close(c->sync_fd);
    // Now inside its cgroup: a new cgroup namespace makes that cgroup the container's root.
    if (c->cgroup_namespace && unshare(CLONE_NEWCGROUP) != 0) fail(c, BERTH_STEP_SYNC, "cgroup namespace");

    // Step 2: standard streams; with a terminal, a new session whose controlling terminal it is.
    standard_streams(c);

    // Step 3: hostname in the new UTS namespace.
    if ((c->clone_flags & CLONE_NEWUTS) && sethostname(c->hostname, strlen(c->hostname)) != 0)
        fail(c, BERTH_STEP_HOSTNAME, c->hostname);

    // Step 4: nothing we mount may propagate back to berth or the host.
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail(c, BERTH_STEP_PROPAGATION, NULL);

    // Step 5: the root must be a mount point for pivot_root: bind it onto itself.
    if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) != 0) fail(c, BERTH_STEP_ROOT, c->root);
    int root_fd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) fail(c, BERTH_STEP_ROOT, c->root);

    // Step 6: default and extra mounts, devices, masked and read-only paths.
    mount_all(c, root_fd);

    // Step 7: pivot_root into the container root and detach the old root entirely.
    if (fchdir(root_fd) != 0) fail(c, BERTH_STEP_PIVOT, "chdir");
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail(c, BERTH_STEP_PIVOT, "pivot_root");
    if (umount2(".", MNT_DETACH) != 0) fail(c, BERTH_STEP_PIVOT, "detach old root");
    if (chdir("/") != 0) fail(c, BERTH_STEP_PIVOT, "chdir /");
    close(root_fd);
    if (c->readonly_root && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
        fail(c, BERTH_STEP_ROOT, "read-only root");

    // Step 8: loopback in a private network namespace.
    if (c->loopback_up) loopback_up(c);

    // Step 8b: a user namespace, entered only now: the mounts, devices and hostname above were
    // made with the host's privileges, and from here on root is root only inside the new
    // namespace (the parent writes its uid and gid maps while we wait, then lets us go).
    if (c->user_namespace) {
        if (unshare(CLONE_NEWUSER) != 0) fail(c, BERTH_STEP_USER, "user namespace");
        char ready = 'u';
        if (write(c->userns_ready_fd, &ready, 1) != 1) fail(c, BERTH_STEP_USER, "user namespace");
        close(c->userns_ready_fd);
        if (read(c->sync_fd, &go, 1) != 1) fail(c, BERTH_STEP_USER, "uid and gid maps");
        close(c->sync_fd);
    }

    // Step 9: seccomp, while we still hold CAP_SYS_ADMIN (without no_new_privs loading a filter
    // is a privileged operation; the filter allows the few calls that follow); steps 10–11:
    // capabilities and user.
    confine(c);

    // Step 12: resource limits and the working directory.
    limits_and_cwd(c);

    // Containers start with docker's umask.
    umask(022);

    // Step 13: close every descriptor but 0-2 and the error pipe (O_CLOEXEC), then exec.
    if (c->error_fd > 3) syscall(SYS_close_range, 3, c->error_fd - 1, 0);
    syscall(SYS_close_range, c->error_fd + 1, ~0U, 0);
    if (c->run_init) run_init(c);
    exec_command(c);
    return 127;
}

pid_t berth_spawn(const struct berth_spawn_config *config) {
    // A fork-like clone: the child gets a copy of this (single) thread's memory and new namespaces.
    long pid = syscall(SYS_clone, (unsigned long)(config->clone_flags | SIGCHLD), 0, 0, 0, 0);
    if (pid == 0) _exit(child_main(config));
    return (pid_t)pid;
}

/// struct clone_args of clone3(2) (Linux 5.7 layout, with the cgroup field).
struct berth_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size,
        cgroup;
};
#define BERTH_CLONE_INTO_CGROUP 0x200000000ULL

pid_t berth_spawn_in_cgroup(const struct berth_spawn_config *config, int cgroup_fd) {
    // Like berth_spawn, but the child starts life inside the cgroup v2 directory `cgroup_fd`:
    // nothing has to be migrated, so the kernel's cgroup threadgroup lock is never taken for
    // writing (on hosts without favordynmods that write waits for an RCU grace period).
    struct berth_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = (uint64_t)(unsigned int)config->clone_flags | BERTH_CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = (uint64_t)cgroup_fd;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) _exit(child_main(config));
    return (pid_t)pid;
}

// ---------------------------------------------------------------------------------------------
// Terminals for `-t` (called from Swift in berth's own process, not after clone).

#include <termios.h>

int berth_open_pty(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -1;
    char name[128];
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) { close(m); return -1; }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) { close(m); return -1; }
    *master = m;
    *slave = s;
    return 0;
}

int berth_copy_window_size(int from, int to) {
    struct winsize size;
    if (ioctl(from, TIOCGWINSZ, &size) != 0) return -1;
    return ioctl(to, TIOCSWINSZ, &size);
}

int berth_set_window_size(int fd, unsigned short rows, unsigned short columns) {
    struct winsize size = {rows, columns, 0, 0};
    return ioctl(fd, TIOCSWINSZ, &size);
}

const int berth_termios_size = sizeof(struct termios);

int berth_make_raw(int fd, void *saved) {
    struct termios settings;
    if (tcgetattr(fd, &settings) != 0) return -1;
    memcpy(saved, &settings, sizeof settings);
    cfmakeraw(&settings);
    return tcsetattr(fd, TCSANOW, &settings);
}

int berth_restore_terminal(int fd, const void *saved) {
    return tcsetattr(fd, TCSANOW, (const struct termios *)saved);
}

// ---------------------------------------------------------------------------------------------
// exec: a new process in a running container.

/// The final process of an exec: berth's child (CLONE_PARENT), already inside the container's
/// namespaces. Waits for berth to place it in the container's cgroups, then confines and execs.
static int exec_final(const struct berth_spawn_config *c) {
    reset_signals();
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    char go;
    if (read(c->sync_fd, &go, 1) != 1) fail(c, BERTH_STEP_SYNC, NULL);
    if (!c->user_namespace) close(c->sync_fd);
    standard_streams(c);
    confine(c);
    limits_and_cwd(c);
    umask(022);
    if (c->error_fd > 3) syscall(SYS_close_range, 3, c->error_fd - 1, 0);
    syscall(SYS_close_range, c->error_fd + 1, ~0U, 0);
    exec_command(c);
    return 127;
}

/// The intermediate process: joins every namespace (the mount namespace last but one, the pid
/// namespace takes effect for children only), clones the final process, reports its pid, exits.
static int exec_intermediate(const struct berth_spawn_config *c) {
    close_inherited(c);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    for (int i = 0; i < c->join_count; i++) {
        if (setns(c->join_namespaces[i], 0) != 0) fail(c, BERTH_STEP_SYNC, "join namespace");
        close(c->join_namespaces[i]);
    }
    long pid = syscall(SYS_clone, (unsigned long)CLONE_PARENT, 0, 0, 0, 0);
    if (pid < 0) fail(c, BERTH_STEP_SYNC, "clone");
    if (pid == 0) _exit(exec_final(c));
    pid_t reported = (pid_t)pid;
    if (write(c->report_fd, &reported, sizeof reported) != sizeof reported) _exit(1);
    return 0;
}

pid_t berth_spawn_into(const struct berth_spawn_config *config) {
    long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(exec_intermediate(config));
    return (pid_t)pid;
}

// ---------------------------------------------------------------------------------------------
// berth's own mount namespace.
//
// Before Swift starts any thread, the berth executable moves into a private mount namespace
// (a slave of the host's, so host mounts still show up). Every overlay berth mounts for a build
// step then lives only as long as the berth process: nothing can leak into the host's mount
// table, even when berth is killed with SIGKILL. BERTH_HOST_MOUNT_NS=1 turns this off for
// debugging. Other programs linking this library (the test runner) are left alone.
// `berth system …` mounts nothing and must see (and may repair) the host's mount table, so it
// stays in the host's namespace.
extern char *program_invocation_short_name;

// The first word of the command line that is not a global option (`--root DIR`, `--debug`).
static const char *berth_command_word(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--root") == 0) { i++; continue; }
        if (strncmp(argv[i], "--root=", 7) == 0 || strcmp(argv[i], "--debug") == 0) continue;
        return argv[i];
    }
    return "";
}

// glibc passes argc, argv and envp to constructors.
__attribute__((constructor)) static void berth_private_mount_namespace(int argc, char **argv, char **envp) {
    (void)envp;
    if (strcmp(program_invocation_short_name, "berth") != 0) return;
    if (argv && strcmp(berth_command_word(argc, argv), "system") == 0) return;
    const char *opt_out = getenv("BERTH_HOST_MOUNT_NS");
    if (opt_out && opt_out[0] == '1') return;
    if (geteuid() != 0) return;  // berth refuses to work without root and says so later
    if (unshare(CLONE_NEWNS) != 0) return;
    mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
}
