#ifndef HARMONIZE_DECODER_LOG_H
#define HARMONIZE_DECODER_LOG_H

/// Installs FFmpeg's log callback: each error a decoder logs calls `on_error` with the decoder's
/// `opaque` (where one is set), then every message goes on to FFmpeg's own callback. (In C: the
/// callback takes a va_list, which Swift cannot pass on.)
void hz_count_decoder_errors(void (*on_error)(void *opaque));

#endif
