// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * Replays fuzz inputs without libFuzzer, where libFuzzer does not build (the routers'
 * targets under qemu-user): every file named on the command line, or found in a
 * directory named there, goes once through LLVMFuzzerTestOneInput, the entry point
 * libfuzzer-sys defines for a fuzz target. libfuzzer-sys links this library in
 * libFuzzer's place when CUSTOM_LIBFUZZER_PATH names it (cross/test does). A failing
 * input aborts the process, as under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* libfuzzer-sys declares it for custom mutators, which no target here has. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size)
{
	(void)data;
	(void)max_size;
	return size;
}

static unsigned long replayed;

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t size = 0, cap = 0, n;

	if (!f) {
		perror(path);
		exit(2);
	}
	do {
		if (size == cap) {
			cap = cap ? 2 * cap : 4096;
			data = realloc(data, cap);
			if (!data)
				abort();
		}
		n = fread(data + size, 1, cap - size, f);
		size += n;
	} while (n);
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	replayed++;
}

static void replay(const char *path)
{
	struct dirent *entry;
	struct stat st;
	char child[4096];
	DIR *dir;

	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	dir = opendir(path);
	if (!dir) {
		perror(path);
		exit(2);
	}
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, entry->d_name);
		replay(child);
	}
	closedir(dir);
}

int main(int argc, char **argv)
{
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		replay(argv[i]);
	printf("%lu inputs replayed\n", replayed);
	return 0;
}
