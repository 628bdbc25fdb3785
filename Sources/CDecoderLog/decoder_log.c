#include "decoder_log.h"

#include <libavcodec/avcodec.h>
#include <libavutil/log.h>

static void (*error_handler)(void *opaque);

static void log_callback(void *context, int level, const char *format, va_list arguments) {
    // A codec context, or a frame thread's copy of one, starts with the AVClass of codec contexts.
    if (level <= AV_LOG_ERROR && context && *(const AVClass **)context == avcodec_get_class()) {
        const AVCodecContext *codec = context;
        if (codec->opaque && codec->codec && av_codec_is_decoder(codec->codec)) error_handler(codec->opaque);
    }
    av_log_default_callback(context, level, format, arguments);
}

void hz_count_decoder_errors(void (*on_error)(void *opaque)) {
    error_handler = on_error;
    av_log_set_callback(log_callback);
}
