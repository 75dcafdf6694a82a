/* glibc before 2.38 has no strlcpy, which procd uses: the BSD semantics, for the tests'
 * build of procd (tests/openwrt/build) only. Included ahead of every file, so it pulls in
 * no libc header (that would fix the feature macros before the file sets _GNU_SOURCE). */
#include <stddef.h>

static inline size_t fw4_offload_test_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = __builtin_strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		__builtin_memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#define strlcpy fw4_offload_test_strlcpy
