/* libpng through its "simplified" API (png_image_*), which handles libpng's longjmp error
 * protocol internally: every call returns 0 on failure with a message in image->message,
 * so Swift (which cannot setjmp) never sees a longjmp. The helpers fill the png_image
 * struct so the Swift side needs none of libpng's macros. */
#include <png.h>
#include <string.h>

/* channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; depth16: 0 = 8-bit samples, 1 = 16-bit
 * (16-bit data are written as linear-coded by libpng's simplified API, so Tessera only
 * writes 8-bit sRGB). */
static inline png_uint_32 cpng_format(int channels) {
    switch (channels) {
    case 1: return PNG_FORMAT_GRAY;
    case 2: return PNG_FORMAT_GA;
    case 3: return PNG_FORMAT_RGB;
    default: return PNG_FORMAT_RGBA;
    }
}

/* Encodes 8-bit pixels. With out == NULL, *out_size receives the needed bytes. Returns 1 on
 * success, 0 on failure with a message copied to msg (at least 64 bytes). */
static inline int cpng_encode8(const void *pixels, png_uint_32 width, png_uint_32 height,
                               int channels, long row_stride, void *out, size_t *out_size,
                               char *msg, size_t msg_cap) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = width;
    img.height = height;
    img.format = cpng_format(channels);
    int ok = png_image_write_to_memory(&img, out, out_size, 0, pixels, (png_int_32)row_stride, NULL);
    if (!ok && msg && msg_cap) {
        strncpy(msg, img.message, msg_cap - 1);
        msg[msg_cap - 1] = 0;
    }
    png_image_free(&img);
    return ok;
}

/* Decodes a PNG in memory to 8-bit pixels of `channels` channels (any input format is
 * converted). First call with pixels == NULL: fills *width/*height and returns 1. Second
 * call with a buffer of width*height*channels bytes decodes. 0 on failure (msg filled). */
static inline int cpng_decode8(const void *data, size_t size, int channels, void *pixels,
                               png_uint_32 *width, png_uint_32 *height, char *msg, size_t msg_cap) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    int ok = png_image_begin_read_from_memory(&img, data, size);
    if (ok) {
        *width = img.width;
        *height = img.height;
        if (pixels) {
            img.format = cpng_format(channels);
            ok = png_image_finish_read(&img, NULL, pixels, 0, NULL);
        }
    }
    if (!ok && msg && msg_cap) {
        strncpy(msg, img.message, msg_cap - 1);
        msg[msg_cap - 1] = 0;
    }
    png_image_free(&img);
    return ok;
}
