/*
 * Runs a libFuzzer target over files (or every file in folders) given on the command
 * line, without libFuzzer. The normal build links every fuzz target with this driver
 * and replays its seed corpus as a test, so the targets keep compiling and the seeds
 * keep passing under the sanitizers even where clang is not used.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return -1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *data = malloc(cap);
	size_t n;
	while (data != NULL && (n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *bigger = realloc(data, cap * 2);
			if (bigger == NULL) {
				free(data);
				data = NULL;
				break;
			}
			data = bigger;
			cap *= 2;
		}
	}
	fclose(f);
	if (data == NULL)
		return -1;
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *e;
			while (d != NULL && (e = readdir(d)) != NULL) {
				if (e->d_name[0] == '.')
					continue;
				char path[4096];
				snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
				if (replay_file(path) < 0)
					return 1;
				files++;
			}
			if (d != NULL)
				closedir(d);
		} else {
			if (replay_file(argv[i]) < 0)
				return 1;
			files++;
		}
	}
	printf("replayed %d inputs\n", files);
	return files > 0 ? 0 : 1;
}
