/* tls_cert.c -- a key and a self-signed certificate for --tls, made with
 * libcrypto at start, or the user's pair loaded and checked.
 *
 * The generated certificate is its own trust anchor: clients trust exactly
 * this file (python's SSL_CERT_FILE, curl --cacert). It says CA:TRUE with
 * keyCertSign and carries subject and authority key ids, so that strict
 * verifiers (X509_STRICT) accept it as a root, and serverAuth with the
 * names a local client dials: localhost, 127.0.0.1, ::1. */
#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "util.h"

#define CN "stagesim localhost"

static int fail(char *err, size_t errlen, const char *what) {
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e) ERR_error_string_n(e, detail, sizeof(detail));
    snprintf(err, errlen, "tls: %s%s%s", what, detail[0] ? ": " : "", detail);
    ERR_clear_error();
    return -1;
}

static int add_ext(X509 *x, int nid, const char *value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A self-signed certificate for pkey, valid from now - 1 h (a client whose
 * clock is a little behind still accepts it) for valid_days. */
static X509 *make_cert(EVP_PKEY *pkey, int64_t now_ms, int valid_days) {
    X509 *x = X509_new();
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    if (!x || RAND_bytes(serial, sizeof(serial)) != 1) goto bad;
    serial[0] &= 0x7f;   /* a positive serial number */
    bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) goto bad;
    time_t start = (time_t)(now_ms / 1000) - 3600;
    if (!X509_set_version(x, 2) ||
        !ASN1_TIME_set(X509_getm_notBefore(x), start) ||
        !ASN1_TIME_set(X509_getm_notAfter(x), start + 3600 + (time_t)valid_days * 86400) ||
        !X509_set_pubkey(x, pkey))
        goto bad;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CN, -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, name))
        goto bad;
    if (add_ext(x, NID_basic_constraints, "critical,CA:TRUE") ||
        add_ext(x, NID_key_usage, "critical,digitalSignature,keyCertSign") ||
        add_ext(x, NID_ext_key_usage, "serverAuth") ||
        add_ext(x, NID_subject_key_identifier, "hash") ||
        add_ext(x, NID_authority_key_identifier, "keyid:always") ||
        add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1"))
        goto bad;
    if (!X509_sign(x, pkey, EVP_sha256())) goto bad;
    BN_free(bn);
    return x;
bad:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

/* The PEM text of what write_fn writes, as a string the caller frees. */
static char *pem_text(int (*write_fn)(BIO *, const void *), const void *obj) {
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (b && write_fn(b, obj)) {
        char *data;
        long n = BIO_get_mem_data(b, &data);
        out = sim_xstrndup(data, (size_t)n);
    }
    BIO_free(b);
    return out;
}

static int write_cert(BIO *b, const void *x) { return PEM_write_bio_X509(b, (X509 *)x); }

static int write_key(BIO *b, const void *k) {
    return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)k, NULL, NULL, 0, NULL, NULL);
}

static int write_file(const char *path, const char *text, mode_t mode, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
        snprintf(err, errlen, "tls: cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    fchmod(fd, mode);   /* whatever the umask made of it */
    close(fd);
    return 0;
}

int sim_tls_cert_generate(sim_tls_cert *out, const char *dir, int64_t now_ms, int valid_days,
                          char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    if (!pkey) return fail(err, errlen, "cannot generate an EC P-256 key");
    X509 *x = make_cert(pkey, now_ms, valid_days);
    if (!x) {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "cannot make the certificate");
    }
    out->cert_pem = pem_text(write_cert, x);
    out->key_pem = pem_text(write_key, pkey);
    X509_free(x);
    EVP_PKEY_free(pkey);
    if (!out->cert_pem || !out->key_pem) {
        sim_tls_cert_free(out);
        return fail(err, errlen, "cannot encode the key and certificate");
    }
    if (!dir) {
        const char *tmp = getenv("TMPDIR");
        snprintf(out->dir, sizeof(out->dir), "%s/stagesim-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(out->dir)) {   /* mode 0700 */
            snprintf(err, errlen, "tls: cannot make a directory %s: %s", out->dir, strerror(errno));
            out->dir[0] = '\0';
            sim_tls_cert_free(out);
            return -1;
        }
        dir = out->dir;
    }
    if (strlen(dir) >= sizeof(out->dir)) {
        snprintf(err, errlen, "tls: directory name too long: %.64s...", dir);
        sim_tls_cert_free(out);
        return -1;
    }
    snprintf(out->cert_path, sizeof(out->cert_path), "%.3072s/cert.pem", dir);
    snprintf(out->key_path, sizeof(out->key_path), "%.3072s/key.pem", dir);
    if (write_file(out->key_path, out->key_pem, 0600, err, errlen) ||
        write_file(out->cert_path, out->cert_pem, 0644, err, errlen)) {
        sim_tls_cert_free(out);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "tls: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    sim_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < (1u << 20))
        sim_buf_append(&b, chunk, n);
    fclose(f);
    if (!b.data) sim_buf_append(&b, "", 0);
    return b.data;
}

int sim_tls_cert_load(sim_tls_cert *out, const char *cert_path, const char *key_path, char *err,
                      size_t errlen) {
    memset(out, 0, sizeof(*out));
    snprintf(out->cert_path, sizeof(out->cert_path), "%s", cert_path);
    snprintf(out->key_path, sizeof(out->key_path), "%s", key_path);
    out->cert_pem = read_file(cert_path, err, errlen);
    out->key_pem = out->cert_pem ? read_file(key_path, err, errlen) : NULL;
    if (!out->key_pem) {
        sim_tls_cert_free(out);
        return -1;
    }
    BIO *cb = BIO_new_mem_buf(out->cert_pem, -1), *kb = BIO_new_mem_buf(out->key_pem, -1);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = 0;
    if (!x) rc = fail(err, errlen, "not a PEM certificate");
    else if (!k) rc = fail(err, errlen, "not a PEM private key");
    else if (X509_check_private_key(x, k) != 1) rc = fail(err, errlen, "key does not match");
    if (rc) {
        char what[256];
        snprintf(what, sizeof(what), "%s", err);
        snprintf(err, errlen, "%s (--tls-cert %s, --tls-key %s)", what, cert_path, key_path);
        sim_tls_cert_free(out);
    }
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

void sim_tls_cert_free(sim_tls_cert *c) {
    free(c->cert_pem);
    free(c->key_pem);
    c->cert_pem = c->key_pem = NULL;
    if (c->dir[0]) {
        unlink(c->cert_path);
        unlink(c->key_path);
        rmdir(c->dir);
        c->dir[0] = '\0';
    }
}
