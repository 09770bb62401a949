/* tls_cert.h -- the key and certificate stagesim serves https and wss with:
 * the user's files, or a key and self-signed certificate made at start
 * (libcrypto: EC P-256, SAN localhost, 127.0.0.1 and ::1), written where
 * clients can trust the certificate. */
#ifndef SIM_TLS_CERT_H
#define SIM_TLS_CERT_H

#include <stddef.h>
#include <stdint.h>

typedef struct sim_tls_cert {
    char cert_path[4096];   /* PEM certificate clients trust (READY "cert") */
    char key_path[4096];    /* PEM private key */
    char *cert_pem;         /* the files' contents (libmicrohttpd takes memory) */
    char *key_pem;
    char dir[3072];         /* the directory made for a generated pair, or "" */
} sim_tls_cert;

/* Generates a key and a certificate valid from now_ms - 1 h for
 * `valid_days`, and writes cert.pem (0644) and key.pem (0600) into dir;
 * with dir NULL, into a fresh private directory (mkdtemp under $TMPDIR or
 * /tmp) that sim_tls_cert_free removes again. 0, or -1 with err. */
int sim_tls_cert_generate(sim_tls_cert *out, const char *dir, int64_t now_ms, int valid_days,
                          char *err, size_t errlen);

/* Loads the user's PEM files (checked to parse, and to be a pair). 0, or
 * -1 with err naming the file. */
int sim_tls_cert_load(sim_tls_cert *out, const char *cert_path, const char *key_path, char *err,
                      size_t errlen);

/* Frees the PEM texts; removes the files and directory it generated (not
 * the user's, not a --tls-dir given by the user). */
void sim_tls_cert_free(sim_tls_cert *c);

#endif
