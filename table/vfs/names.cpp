/* Paths as names (libos_vfs.h, vfs_internal.h): the lexical steps that come before a walk (resolve.cpp)
 * decides what a path names: collapsing "." and ".." to tell cheaply whether a path may lead into the
 * views, joining a relative path to its directory, and classifying a path the shim was handed. */
#include <string.h>

#include "vfs/vfs_internal.h"

namespace libos {
namespace {

/* The length of the path component at s (up to the next '/'). */
size_t component_length(const char* s) {
    return strcspn(s, "/");
}

}  // namespace

/* Collapses "//", "/./" and "/x/.." of an absolute path, lexically: only to tell cheaply whether a
 * path can lead into the views (the walk decides what it names). */
bool normalize(const char* path, char* out, const char* then) {
    if (path[0] != '/')
        return false;
    size_t len = 0;
    out[0] = '\0';
    for (const char* p = path;;) {
        if (*p == '\0') {
            if (!then)
                break;
            p = then; /* the relative part, after the directory it starts from */
            then = nullptr;
            continue;
        }
        while (*p == '/')
            ++p;
        size_t n = component_length(p);
        if (n == 0)
            continue; /* the end of this part */
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 0 && out[len - 1] != '/')
                --len;
            if (len > 0)
                --len;
            out[len] = '\0';
        } else {
            if (len + 1 + n + 1 > kVfsPathMax)
                return false;
            out[len++] = '/';
            memcpy(out + len, p, n);
            len += n;
            out[len] = '\0';
        }
        p += n;
    }
    if (len == 0) {
        out[0] = '/';
        out[1] = '\0';
    }
    return true;
}

bool vfs_join(const char* dir, const char* relative, char* out) {
    size_t ld = strlen(dir), lr = strlen(relative);
    if (ld + lr + 2 > kVfsPathMax)
        return false;
    memcpy(out, dir, ld);
    out[ld] = '/';
    memcpy(out + ld + 1, relative, lr + 1);
    return true;
}

bool vfs_classify_named(Caller caller, const char* path, VfsPath* out) {
    if (path[0] == '/')
        return vfs_classify(caller, path, out);
    char cwd[kVfsPathMax];
    return path[0] != '\0' && vfs_cwd(cwd) && vfs_classify(caller, path, out, VfsFollow::Last, 0, cwd);
}

bool vfs_absolute(const char* path, char* out) {
    if (path[0] == '\0')
        return false; /* the empty path names nothing (ENOENT), not the current directory */
    if (path[0] == '/') {
        size_t n = strlen(path);
        if (n >= kVfsPathMax)
            return false;
        memcpy(out, path, n + 1);
        return true;
    }
    char cwd[kVfsPathMax];
    return vfs_cwd(cwd) && vfs_join(cwd, path, out);
}

}  // namespace libos
