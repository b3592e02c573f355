#include <archive.h>
#include <archive_entry.h>
// Extended attributes travel with layer entries (security.capability, user.*).
#include <sys/xattr.h>
