/* The copies of live generated files' descriptors that a posix_spawn's file actions make
 * (posix_spawn_file_actions_adddup2): glibc's child makes them with its internal dup2, which no
 * override sees, and execs with the environment the parent made; so the parent reads the actions
 * and lists the copies for the new program (libos_vfs.h: vfs_live_spawn_copies).
 *
 * spawn.h keeps the actions' own layout private (posix/spawn_int.h): an array of `__used` records of
 * a tag and a union, 32 bytes each on 64-bit targets, the same from glibc 2.26 to 2.40 (2.34 added
 * closefrom's tag, 2.35 tcsetpgrp's). The records are read only from a glibc of those versions and
 * only while every tag is known; otherwise nothing is listed, as before. A wrong reading could only
 * name a candidate the new program then checks (it adopts a descriptor only if it still is a
 * changing generated file's memfd). */
#include <gnu/libc-version.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "libos/libos_vfs.h"
#include "shim.h"

namespace {

struct GlibcSpawnAction {
    enum Tag : int { kClose, kDup2, kOpen, kChdir, kFchdir, kClosefrom, kTcsetpgrp };
    Tag tag;
    union {
        struct {
            int fd;
        } close_action;
        struct {
            int fd;
            int newfd;
        } dup2_action;
        struct {
            int fd;
            char* path;
            int oflag;
            mode_t mode;
        } open_action;
        struct {
            char* path;
        } chdir_action;
        struct {
            int fd;
        } fd_action;
    } action;
};
static_assert(sizeof(GlibcSpawnAction) == 32, "glibc's record on a 64-bit target");

/* glibc 2.26 to 2.40: the layout above. */
bool known_layout() {
    const char* version = gnu_get_libc_version();
    if (strncmp(version, "2.", 2) != 0)
        return false;
    long minor = strtol(version + 2, nullptr, 10);
    return minor >= 26 && minor <= 40;
}

}  // namespace

namespace shim {

void spawn_actions_begin(const posix_spawn_file_actions_t* actions, libos::VfsSpawnCopies* outer) {
    libos::vfs_live_spawn_save(outer);
    if (outer->count != 0) /* another spawn's, which this one interrupted: none of this one's */
        libos::vfs_live_spawn_copies(nullptr, nullptr, 0);
    if (!actions || !libos::vfs_live_any() || actions->__used <= 0 || actions->__used > actions->__allocated ||
        !actions->__actions || !known_layout())
        return;
    constexpr int kMostActions = 64;
    int from[kMostActions], to[kMostActions], count = 0;
    const auto* records = reinterpret_cast<const GlibcSpawnAction*>(actions->__actions);
    for (int i = 0; i < actions->__used && count < kMostActions; ++i) {
        const GlibcSpawnAction& a = records[i];
        switch (a.tag) {
            case GlibcSpawnAction::kDup2:
                from[count] = a.action.dup2_action.fd;
                to[count++] = a.action.dup2_action.newfd;
                break;
            case GlibcSpawnAction::kClose: /* the number is no copy any more */
                from[count] = -1;
                to[count++] = a.action.close_action.fd;
                break;
            case GlibcSpawnAction::kOpen:
                from[count] = -1;
                to[count++] = a.action.open_action.fd;
                break;
            case GlibcSpawnAction::kChdir:
            case GlibcSpawnAction::kFchdir:
            case GlibcSpawnAction::kClosefrom:
            case GlibcSpawnAction::kTcsetpgrp:
                break;
            default:
                return; /* a tag this layout does not know: nothing is read */
        }
    }
    libos::vfs_live_spawn_copies(from, to, count);
}

void spawn_actions_end(const libos::VfsSpawnCopies& outer) {
    libos::vfs_live_spawn_restore(outer);
}

}  // namespace shim
