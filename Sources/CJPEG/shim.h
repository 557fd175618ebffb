#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/*
 * libjpeg reports fatal errors through error_exit, which by default calls exit(). Swift
 * cannot use setjmp/longjmp, so these helpers do it in C: each one sets a jump point, and
 * loupe_jpeg_error_exit formats the message and jumps back, so the helper returns nonzero
 * with the message in `decoder->message`. JPEGDecoder in LoupeFormats/Images/JPEG.swift is
 * the only caller.
 */

typedef struct loupe_jpeg_decoder {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    jmp_buf jump;
    int created;           /* jpeg_create_decompress has run */
    int truncated;         /* the data ended early (libjpeg only warns about it) */
    char message[JMSG_LENGTH_MAX];
} loupe_jpeg_decoder;

static inline void loupe_jpeg_error_exit(j_common_ptr cinfo) {
    loupe_jpeg_decoder *d = (loupe_jpeg_decoder *)cinfo->client_data;
    (*cinfo->err->format_message)(cinfo, d->message);
    longjmp(d->jump, 1);
}

/* Warnings are not printed; running out of data is remembered so that Swift can refuse
 * a truncated file instead of returning gray padding. */
static inline void loupe_jpeg_emit_message(j_common_ptr cinfo, int level) {
    loupe_jpeg_decoder *d = (loupe_jpeg_decoder *)cinfo->client_data;
    if (level < 0) {
        cinfo->err->num_warnings++;
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
            d->truncated = 1;
            (*cinfo->err->format_message)(cinfo, d->message);
        }
    }
}

static inline void loupe_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* Allocates a decoder; NULL only if out of memory. Free with loupe_jpeg_close. */
static inline loupe_jpeg_decoder *loupe_jpeg_new(void) {
    loupe_jpeg_decoder *d = (loupe_jpeg_decoder *)calloc(1, sizeof(loupe_jpeg_decoder));
    return d;
}

static inline void loupe_jpeg_close(loupe_jpeg_decoder *d) {
    if (!d) return;
    if (d->created) jpeg_destroy_decompress(&d->cinfo);
    free(d);
}

/*
 * Reads the header of the JPEG in data[0..<size] (which must outlive the decoder) and sets
 * the output colour space: grayscale stays 1 channel, YCbCr/RGB become RGB. CMYK/YCCK are
 * refused. Returns 0 and fills width/height/channels, or nonzero with d->message set.
 */
static inline int loupe_jpeg_read_header(loupe_jpeg_decoder *d, const unsigned char *data, unsigned long size,
                                         int *width, int *height, int *channels) {
    d->cinfo.err = jpeg_std_error(&d->err);
    d->err.error_exit = loupe_jpeg_error_exit;
    d->err.emit_message = loupe_jpeg_emit_message;
    d->err.output_message = loupe_jpeg_output_message;
    d->cinfo.client_data = d;
    if (setjmp(d->jump)) return 1;
    jpeg_create_decompress(&d->cinfo);
    d->created = 1;
    jpeg_mem_src(&d->cinfo, data, size);
    jpeg_read_header(&d->cinfo, TRUE);
    switch (d->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        d->cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        d->cinfo.out_color_space = JCS_RGB;
        break;
    default:
        snprintf(d->message, sizeof d->message,
                 "CMYK/YCCK JPEG (colour space %d) is not supported; convert it to RGB",
                 (int)d->cinfo.jpeg_color_space);
        return 2;
    }
    jpeg_calc_output_dimensions(&d->cinfo);
    *width = (int)d->cinfo.output_width;
    *height = (int)d->cinfo.output_height;
    *channels = d->cinfo.output_components;
    return 0;
}

/*
 * Decodes all scanlines into `pixels` (height rows of width*channels bytes, packed).
 * Returns 0, or nonzero with d->message set (3 when the data ended early).
 */
static inline int loupe_jpeg_decode(loupe_jpeg_decoder *d, unsigned char *pixels) {
    if (setjmp(d->jump)) return 1;
    jpeg_start_decompress(&d->cinfo);
    size_t stride = (size_t)d->cinfo.output_width * (size_t)d->cinfo.output_components;
    /* Once the data has run out, the rest would only be libjpeg's gray padding, and the
     * file is refused anyway: stop there rather than fill the rest of the declared size. */
    while (!d->truncated && d->cinfo.output_scanline < d->cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)d->cinfo.output_scanline * stride;
        jpeg_read_scanlines(&d->cinfo, &row, 1);
    }
    if (d->truncated) {
        jpeg_abort_decompress(&d->cinfo);
        return 3;
    }
    jpeg_finish_decompress(&d->cinfo);
    return d->truncated ? 3 : 0;
}

static inline const char *loupe_jpeg_message(const loupe_jpeg_decoder *d) { return d->message; }
