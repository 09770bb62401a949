/* base64url.h -- base64url (RFC 4648 section 5), pure. */
#ifndef SIM_BASE64URL_H
#define SIM_BASE64URL_H

#include <stddef.h>

/* base64url without padding. Returns bytes written (excluding NUL).
 * out must hold 4 * ((n + 2) / 3) + 1 bytes. */
size_t sim_b64url_encode(char *out, const unsigned char *in, size_t n);
/* Returns decoded length or -1 on invalid input; out must hold n bytes.
 * Accepts padding and also standard base64 characters. */
long sim_b64url_decode(unsigned char *out, const char *in, size_t n);

#endif
