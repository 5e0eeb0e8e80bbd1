/*
 * json_emit.c - test tool: logs `count` randomised hostile events through a real pipeline as
 * JSON lines on stdout, and writes the exact input bytes of every field (hex) to the file
 * named by argv[3], so an independent decoder (Python's json) can check the round trip.
 *
 *   json_emit SEED COUNT INPUTS_FILE
 */
#include <skylog.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t gen(unsigned char *out, size_t max, bool allow_nul)
{
    size_t n = next() % max;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next();
        switch (r % 5) {
        case 0: out[i] = (unsigned char)(r >> 8); break;
        case 1: out[i] = (unsigned char)(0x80 + (r >> 8) % 0x80); break;
        case 2: out[i] = (unsigned char)((r >> 8) % 0x20); break;
        case 3: { /* a valid multi-byte character */
            static const char *const chars[] = {"é", "€", "𝄞", "\u2028", "日"};
            const char *c = chars[(r >> 8) % 5];
            size_t l = strlen(c);
            if (i + l <= n) {
                memcpy(out + i, c, l);
                i += l - 1;
            } else {
                out[i] = 'z';
            }
            break;
        }
        default: out[i] = (unsigned char)(' ' + (r >> 8) % 95); break;
        }
        if (!allow_nul && out[i] == 0)
            out[i] = 1;
    }
    return n;
}

static void hex(FILE *f, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: json_emit SEED COUNT INPUTS_FILE\n");
        return 2;
    }
    rng = strtoull(argv[1], NULL, 10) | 1;
    long count = strtol(argv[2], NULL, 10);
    FILE *in = fopen(argv[3], "w");
    if (!in) {
        perror(argv[3]);
        return 1;
    }
    sky_t *sky;
    if (sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true}, &sky) != SKY_OK)
        return 1;
    sky_add_sink(sky, sky_sink_console(&(sky_console_opts){.stream = SKY_STDOUT,
                                                            .format = SKY_FORMAT_JSON}),
                 NULL);
    sky_logger *log = sky_logger_get(sky, "oracle");
    enum { FIELDS = 6, MAX = 300 };
    static unsigned char keys[FIELDS][40], vals[FIELDS][MAX];
    for (long e = 0; e < count; e++) {
        sky_field fs[FIELDS];
        for (int i = 0; i < FIELDS; i++) {
            /* keys: unique prefix so no two collide after repair; random hostile tail */
            int kl = snprintf((char *)keys[i], 8, "k%d_", i);
            size_t tail = gen(keys[i] + kl, 30, false);
            keys[i][kl + tail] = '\0';
            size_t vl = gen(vals[i], MAX, true);
            fs[i] = SKY_STRN((const char *)keys[i], (const char *)vals[i], vl);
            hex(in, keys[i], strlen((char *)keys[i]));
            fputc(' ', in);
            hex(in, vals[i], vl);
            fputc(i + 1 < FIELDS ? ' ' : '\n', in);
        }
        sky_emit(log, SKY_LEVEL_INFO, "oracle_event", NULL, fs, FIELDS);
    }
    fclose(in);
    return sky_close(sky) == SKY_OK ? 0 : 1;
}
