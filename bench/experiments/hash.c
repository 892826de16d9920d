/*
 * Experiment, not part of vouch (built only by bench/experiments/hash-floor.ts, never at install or test): the
 * per-file hashing loop of vouch's directory walk in C on plain threads, as a Node addon, to measure the floor a
 * native core would reach against the TypeScript hashing pool (src/artifact/dir/pool.ts) and
 * `find | xargs -P2 openssl dgst`. vouch itself ships no native code: a signing tool must install with
 * --ignore-scripts and without a compiler (issue 11, decision 1).
 *
 * It is built without node-gyp, Node's headers or OpenSSL's headers: the few Node-API and OpenSSL EVP functions it
 * calls are declared below (Node-API: the documented C signatures, handles as opaque pointers; EVP: opaque
 * pointers, no struct layout) and resolve against the running node binary when it is loaded (RTLD_NOW).
 *
 * The job: shared arrays as the benchmark packs them. counter[0] the next index to take (chunks taken with an
 * atomic add), counter[1] files done; for a streamed job counter[2] files published and counter[3] = 1 once the
 * listing is closed (a waiting thread polls with a short sleep). Per file: a status (ST_* below), mode and size
 * (meta), and 32 digest bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------------------ Node-API */

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_ref__ *napi_ref;
typedef struct napi_callback_info__ *napi_callback_info;
typedef struct napi_threadsafe_function__ *napi_threadsafe_function;
typedef int napi_status; /* an enum in node's headers; 0 is napi_ok */
#define napi_ok 0
typedef napi_value (*napi_callback)(napi_env env, napi_callback_info info);
typedef void (*napi_finalize)(napi_env env, void *data, void *hint);
typedef void (*napi_threadsafe_function_call_js)(napi_env env, napi_value js_callback, void *context, void *data);
typedef void (*napi_cleanup_hook)(void *arg);
typedef enum {
  napi_undefined,
  napi_null,
  napi_boolean,
  napi_number,
  napi_string,
  napi_symbol,
  napi_object,
  napi_function,
  napi_external,
  napi_bigint,
} napi_valuetype;
typedef enum {
  napi_int8_array,
  napi_uint8_array,
  napi_uint8_clamped_array,
  napi_int16_array,
  napi_uint16_array,
  napi_int32_array,
  napi_uint32_array,
  napi_float32_array,
  napi_float64_array,
  napi_bigint64_array,
  napi_biguint64_array,
} napi_typedarray_type;
typedef enum { napi_tsfn_release, napi_tsfn_abort } napi_threadsafe_function_release_mode;
typedef enum { napi_tsfn_nonblocking, napi_tsfn_blocking } napi_threadsafe_function_call_mode;
#define NAPI_AUTO_LENGTH SIZE_MAX

napi_status napi_create_function(napi_env env, const char *utf8name, size_t length, napi_callback cb, void *data,
                                 napi_value *result);
napi_status napi_set_named_property(napi_env env, napi_value object, const char *utf8name, napi_value value);
napi_status napi_get_named_property(napi_env env, napi_value object, const char *utf8name, napi_value *result);
napi_status napi_get_cb_info(napi_env env, napi_callback_info cbinfo, size_t *argc, napi_value *argv,
                             napi_value *this_arg, void **data);
napi_status napi_typeof(napi_env env, napi_value value, napi_valuetype *result);
napi_status napi_get_value_string_utf8(napi_env env, napi_value value, char *buf, size_t bufsize, size_t *result);
napi_status napi_get_value_double(napi_env env, napi_value value, double *result);
napi_status napi_get_value_bool(napi_env env, napi_value value, bool *result);
napi_status napi_is_typedarray(napi_env env, napi_value value, bool *result);
napi_status napi_get_typedarray_info(napi_env env, napi_value typedarray, napi_typedarray_type *type, size_t *length,
                                     void **data, napi_value *arraybuffer, size_t *byte_offset);
napi_status napi_is_arraybuffer(napi_env env, napi_value value, bool *result);
napi_status napi_create_reference(napi_env env, napi_value value, uint32_t initial_refcount, napi_ref *result);
napi_status napi_delete_reference(napi_env env, napi_ref ref);
napi_status napi_throw_error(napi_env env, const char *code, const char *msg);
napi_status napi_create_threadsafe_function(napi_env env, napi_value func, napi_value async_resource,
                                            napi_value async_resource_name, size_t max_queue_size,
                                            size_t initial_thread_count, void *thread_finalize_data,
                                            napi_finalize thread_finalize_cb, void *context,
                                            napi_threadsafe_function_call_js call_js_cb,
                                            napi_threadsafe_function *result);
napi_status napi_call_threadsafe_function(napi_threadsafe_function func, void *data,
                                          napi_threadsafe_function_call_mode is_blocking);
napi_status napi_release_threadsafe_function(napi_threadsafe_function func,
                                             napi_threadsafe_function_release_mode mode);
napi_status napi_call_function(napi_env env, napi_value recv, napi_value func, size_t argc, const napi_value *argv,
                               napi_value *result);
napi_status napi_get_undefined(napi_env env, napi_value *result);
napi_status napi_get_null(napi_env env, napi_value *result);
napi_status napi_create_external(napi_env env, void *data, napi_finalize finalize_cb, void *finalize_hint,
                                 napi_value *result);
napi_status napi_get_value_external(napi_env env, napi_value value, void **result);
napi_status napi_create_int32(napi_env env, int32_t value, napi_value *result);
napi_status napi_create_bigint_uint64(napi_env env, uint64_t value, napi_value *result);
napi_status napi_create_string_utf8(napi_env env, const char *str, size_t length, napi_value *result);
napi_status napi_create_buffer_copy(napi_env env, size_t length, const void *data, void **result_data,
                                    napi_value *result);
napi_status napi_create_array(napi_env env, napi_value *result);
napi_status napi_create_double(napi_env env, double value, napi_value *result);
napi_status napi_set_element(napi_env env, napi_value object, uint32_t index, napi_value value);
napi_status napi_add_env_cleanup_hook(napi_env env, napi_cleanup_hook fun, void *arg);
napi_status napi_remove_env_cleanup_hook(napi_env env, napi_cleanup_hook fun, void *arg);

/* ------------------------------------------------------------------------------------------------- OpenSSL */

typedef struct evp_md_st EVP_MD;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct engine_st ENGINE;
typedef struct ossl_lib_ctx_st OSSL_LIB_CTX;
typedef struct ossl_param_st OSSL_PARAM;
EVP_MD_CTX *EVP_MD_CTX_new(void);
void EVP_MD_CTX_free(EVP_MD_CTX *ctx);
const EVP_MD *EVP_sha256(void);
EVP_MD *EVP_MD_fetch(OSSL_LIB_CTX *ctx, const char *algorithm, const char *properties);
void EVP_MD_free(EVP_MD *md);
int EVP_DigestInit_ex(EVP_MD_CTX *ctx, const EVP_MD *type, ENGINE *impl);
int EVP_DigestInit_ex2(EVP_MD_CTX *ctx, const EVP_MD *type, const OSSL_PARAM *params);
int EVP_DigestUpdate(EVP_MD_CTX *ctx, const void *d, size_t cnt);
int EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *s);

/* ------------------------------------------------------------------------------------------------ the job */

/* Status codes per file, as the benchmark reads them. */
enum { ST_PENDING = 0, ST_OK = 1, ST_SYMLINK = 3, ST_NOT_FILE = 4, ST_MISSING = 5, ST_ERROR = 6, ST_LARGE = 7 };
#define MAX_THREADS 64
/* How long a thread waiting for the listing to publish more files sleeps between looks. */
#define POLL_NS 200000L

typedef struct job {
  /* Shared with JS (pointers into SharedArrayBuffers kept alive by the refs below). */
  int32_t *counter;
  int32_t *status;
  double *meta;
  unsigned char *digests;
  const unsigned char *names;
  const uint32_t *offsets;
  /* Plain job data. */
  char *root;
  size_t root_len;
  int64_t count;     /* files of a job that is not streamed */
  int64_t max_files; /* streamed: the most files the arrays have room for */
  uint64_t names_cap;
  bool stream;
  int32_t chunk;
  size_t buffer_size;
  double large_file;
  /* Set by stop() or the environment's teardown: threads leave after the file they are on. */
  int abort;
  /* Threads, and the completion handed back to the JS thread by the last one to leave. */
  pthread_mutex_t lock;
  pthread_t threads[MAX_THREADS];
  int started; /* threads to join */
  int spawned;
  int running;
  int failed; /* a thread could not get its buffer or digest context */
  bool finished; /* the last thread has left (no more can be added) */
  bool joined;
  napi_threadsafe_function done;
  napi_ref refs[7];
  int nrefs;
  napi_env env;
  bool hook;
  int handles; /* the JS handle and the completion each hold the job */
} job_t;

static void job_release(job_t *job) {
  if (--job->handles > 0) return;
  pthread_mutex_destroy(&job->lock);
  free(job->root);
  free(job);
}

static void join_all(job_t *job) {
  if (job->joined) return;
  pthread_mutex_lock(&job->lock);
  int n = job->started;
  pthread_mutex_unlock(&job->lock);
  for (int t = 0; t < n; t++) pthread_join(job->threads[t], NULL);
  job->joined = true;
}

static int status_of_errno(int e) {
  if (e == ELOOP) return ST_SYMLINK;
  if (e == ENOENT || e == ENOTDIR) return ST_MISSING;
  if (e == ENXIO) return ST_NOT_FILE;
  return ST_ERROR;
}

static ssize_t read_full_once(int fd, unsigned char *buf, size_t len) {
  for (;;) {
    ssize_t r = read(fd, buf, len);
    if (r >= 0 || errno != EINTR) return r;
  }
}

/* One file: what hashShare does for an index without a cache. `path` already holds root + '/'. */
static void hash_file(job_t *job, int64_t i, char **path, size_t *path_cap, unsigned char *buf, EVP_MD_CTX *ctx,
                      EVP_MD *fetched) {
  uint32_t o0 = job->offsets[i];
  uint32_t o1 = job->offsets[i + 1];
  if (o1 < o0 || o1 > job->names_cap) {
    job->status[i] = ST_ERROR;
    return;
  }
  size_t len = o1 - o0;
  /* A NUL would end the path early and name another file; JS refuses such a path before any system call. */
  if (memchr(job->names + o0, 0, len) != NULL) {
    job->status[i] = ST_ERROR;
    return;
  }
  size_t need = job->root_len + 1 + len + 1;
  if (need > *path_cap) {
    char *bigger = realloc(*path, need);
    if (bigger == NULL) {
      job->status[i] = ST_ERROR;
      return;
    }
    *path = bigger;
    *path_cap = need;
  }
  memcpy(*path + job->root_len + 1, job->names + o0, len);
  (*path)[job->root_len + 1 + len] = 0;

  int fd = open(*path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    job->status[i] = status_of_errno(errno);
    return;
  }
  struct stat st;
  int64_t m = i * 2;
  if (fstat(fd, &st) != 0) {
    job->status[i] = ST_ERROR;
    close(fd);
    return;
  }
  job->meta[m] = (double)st.st_mode;
  if (!S_ISREG(st.st_mode)) {
    job->status[i] = ST_NOT_FILE;
    close(fd);
    return;
  }
  if ((double)st.st_size > job->large_file) {
    /* Left to the JS large-file reader, which checks it opens the same inode on the same device. */
    double *wide = (double *)job->digests;
    job->meta[m + 1] = (double)st.st_size;
    wide[i * 4] = (double)st.st_ino;
    wide[i * 4 + 1] = (double)st.st_dev;
    job->status[i] = ST_LARGE;
    close(fd);
    return;
  }
  /* A short read of a regular file means end of file, so a small file costs one read, not two. */
  size_t cap = job->buffer_size;
  double size = 0;
  bool ok = (fetched != NULL ? EVP_DigestInit_ex2(ctx, fetched, NULL) : EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) == 1;
  for (;;) {
    ssize_t r = read_full_once(fd, buf, cap);
    if (r < 0) {
      ok = false;
      break;
    }
    size += (double)r;
    if (r > 0 && EVP_DigestUpdate(ctx, buf, (size_t)r) != 1) ok = false;
    if ((size_t)r < cap || !ok) break;
  }
  unsigned char out[64];
  unsigned int outlen = 0;
  if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 || outlen != 32) ok = false;
  close(fd);
  if (!ok) {
    job->status[i] = ST_ERROR;
    return;
  }
  memcpy(job->digests + i * 32, out, 32);
  job->meta[m + 1] = size;
  job->status[i] = ST_OK;
}

static bool aborted(job_t *job) { return __atomic_load_n(&job->abort, __ATOMIC_RELAXED) != 0; }

static void nap(void) {
  struct timespec ts = {0, POLL_NS};
  nanosleep(&ts, NULL);
}

static void *worker(void *arg) {
  job_t *job = arg;
  unsigned char *buf = malloc(job->buffer_size);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  /*
   * Fetched once: EVP_DigestInit_ex with EVP_sha256() looks the implementation up again for every file (~180 ns of
   * a ~1.5 us digest of 2 KB, measured in node 24's OpenSSL 3.5). Without it, the implicit fetch still works.
   */
  EVP_MD *fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
  size_t path_cap = job->root_len + 256;
  char *path = malloc(path_cap);
  int32_t *counter = job->counter;
  if (buf == NULL || ctx == NULL || path == NULL) {
    /* Nothing taken: the other threads, or the JS rescue pass, hash the files. */
    __atomic_fetch_add(&job->failed, 1, __ATOMIC_SEQ_CST);
    goto out;
  }
  memcpy(path, job->root, job->root_len);
  path[job->root_len] = '/';
  for (;;) {
    if (aborted(job)) break;
    int64_t start = __atomic_fetch_add(&counter[0], job->chunk, __ATOMIC_SEQ_CST);
    int64_t n = job->count;
    if (job->stream) {
      /* The listing is still going: wait until this chunk is published or the listing is over. */
      for (;;) {
        int64_t published = __atomic_load_n(&counter[2], __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&counter[3], __ATOMIC_SEQ_CST) == 1) {
          n = __atomic_load_n(&counter[2], __ATOMIC_SEQ_CST);
          break;
        }
        if (published >= start + job->chunk) {
          n = published;
          break;
        }
        if (aborted(job)) {
          n = 0;
          break;
        }
        nap();
      }
      if (n > job->max_files) n = job->max_files;
    }
    if (start < 0 || start >= n) break;
    int64_t end = start + job->chunk < n ? start + job->chunk : n;
    for (int64_t i = start; i < end; i++) {
      if (aborted(job)) break;
      if (job->status[i] != ST_PENDING) continue;
      hash_file(job, i, &path, &path_cap, buf, ctx, fetched);
    }
    __atomic_fetch_add(&counter[1], (int32_t)(end - start), __ATOMIC_SEQ_CST);
  }
out:
  free(path);
  free(buf);
  if (ctx != NULL) EVP_MD_CTX_free(ctx);
  if (fetched != NULL) EVP_MD_free(fetched);
  pthread_mutex_lock(&job->lock);
  bool last = --job->running == 0;
  if (last) job->finished = true;
  napi_threadsafe_function done = job->done;
  pthread_mutex_unlock(&job->lock);
  if (last) {
    /* The JS thread joins every thread (this one included) before it frees anything. */
    napi_call_threadsafe_function(done, NULL, napi_tsfn_blocking);
    napi_release_threadsafe_function(done, napi_tsfn_release);
  }
  return NULL;
}

/* Start up to `k` more threads; returns how many started. Called on the JS thread. */
static int add_threads(job_t *job, int k) {
  int added = 0;
  /* The threads start with every signal blocked, so signals go to node's own threads and no read sees EINTR. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_mutex_lock(&job->lock);
  while (added < k && !job->finished && job->started < MAX_THREADS) {
    job->running++;
    if (pthread_create(&job->threads[job->started], NULL, worker, job) != 0) {
      job->running--;
      break;
    }
    job->started++;
    job->spawned++;
    added++;
  }
  pthread_mutex_unlock(&job->lock);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return added;
}

static void cleanup_hook(void *arg) {
  /* The environment is going away (a worker thread ending, the process exiting) with threads still running. */
  job_t *job = arg;
  __atomic_store_n(&job->abort, 1, __ATOMIC_SEQ_CST);
  join_all(job);
  job->hook = false;
}

/* On the JS thread, once the last thread has left. */
static void call_done(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)data;
  job_t *job = context;
  join_all(job);
  if (env == NULL) return; /* teardown: the job is left to the process's end */
  if (job->hook) napi_remove_env_cleanup_hook(env, cleanup_hook, job);
  job->hook = false;
  for (int r = 0; r < job->nrefs; r++) napi_delete_reference(env, job->refs[r]);
  job->nrefs = 0;
  napi_value undefined, arg;
  napi_get_undefined(env, &undefined);
  if (job->failed > 0 && job->failed == job->spawned) {
    napi_create_string_utf8(env, "no hashing thread could start", NAPI_AUTO_LENGTH, &arg);
  } else {
    napi_get_null(env, &arg);
  }
  napi_call_function(env, undefined, js_cb, 1, &arg, NULL);
  job_release(job);
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  job_release(data);
}

/* ------------------------------------------------------------------------------------- argument checking */

#define THROW(msg)                                      \
  do {                                                  \
    napi_throw_error(env, "ERR_VOUCH_NATIVE", (msg));   \
    return false;                                       \
  } while (0)

static bool get_prop(napi_env env, napi_value obj, const char *name, napi_value *out) {
  if (napi_get_named_property(env, obj, name, out) != napi_ok) THROW("cannot read a job property");
  return true;
}

static bool get_number(napi_env env, napi_value obj, const char *name, double lo, double hi, double *out) {
  napi_value v;
  napi_valuetype t;
  if (!get_prop(env, obj, name, &v)) return false;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) THROW("a job number is missing");
  if (napi_get_value_double(env, v, out) != napi_ok) THROW("a job number is unreadable");
  if (!(*out >= lo && *out <= hi) || *out != (double)(int64_t)*out) THROW("a job number is out of range");
  return true;
}

/*
 * A typed array of `type` from job[name]: its data pointer, its length in elements now, and the bytes it may grow
 * to (its buffer's maxByteLength, for a growable buffer, less its offset). A strong reference keeps the buffer
 * alive until the job is done, so a thread never writes into freed memory.
 */
static bool get_array(napi_env env, napi_value obj, const char *name, napi_typedarray_type type, job_t *job,
                      void **data, size_t *length, uint64_t *capacity_bytes) {
  napi_value v, buffer, max;
  bool is;
  if (!get_prop(env, obj, name, &v)) return false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) THROW("a job array is not a typed array");
  napi_typedarray_type actual;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &actual, length, data, &buffer, &offset) != napi_ok) {
    THROW("a job array is unreadable");
  }
  if (actual != type) THROW("a job array has the wrong element type");
  /* A plain ArrayBuffer can be detached (transferred) while the threads write to it; a shared one cannot. */
  bool plain;
  if (napi_is_arraybuffer(env, buffer, &plain) != napi_ok || plain) THROW("a job array is not shared memory");
  size_t elem = type == napi_float64_array ? 8 : type == napi_int32_array || type == napi_uint32_array ? 4 : 1;
  uint64_t cap = (uint64_t)*length * elem;
  napi_valuetype t;
  double m;
  if (napi_get_named_property(env, buffer, "maxByteLength", &max) == napi_ok &&
      napi_typeof(env, max, &t) == napi_ok && t == napi_number && napi_get_value_double(env, max, &m) == napi_ok &&
      m >= (double)offset && m - (double)offset > (double)cap) {
    cap = (uint64_t)(m - (double)offset);
  }
  if (*data == NULL && cap > 0) THROW("a job array has no memory");
  *capacity_bytes = cap;
  if (napi_create_reference(env, v, 1, &job->refs[job->nrefs]) != napi_ok) THROW("cannot keep a job array");
  job->nrefs++;
  return true;
}

static void drop_refs(napi_env env, job_t *job) {
  for (int r = 0; r < job->nrefs; r++) napi_delete_reference(env, job->refs[r]);
  job->nrefs = 0;
}

static bool read_job(napi_env env, napi_value root_v, napi_value o, job_t *job) {
  napi_valuetype t;
  if (napi_typeof(env, root_v, &t) != napi_ok || t != napi_string) THROW("root must be a string");
  size_t root_len;
  if (napi_get_value_string_utf8(env, root_v, NULL, 0, &root_len) != napi_ok || root_len > (1 << 20)) {
    THROW("root is unreadable or too long");
  }
  job->root = malloc(root_len + 1);
  if (job->root == NULL) THROW("out of memory");
  napi_get_value_string_utf8(env, root_v, job->root, root_len + 1, &job->root_len);
  if (job->root_len != root_len || strlen(job->root) != root_len) THROW("root contains a NUL byte");
  if (napi_typeof(env, o, &t) != napi_ok || t != napi_object) THROW("the job must be an object");

  napi_value v;
  bool stream = false;
  if (!get_prop(env, o, "stream", &v)) return false;
  if (napi_typeof(env, v, &t) == napi_ok && t == napi_boolean) napi_get_value_bool(env, v, &stream);
  job->stream = stream;
  double d;
  if (!get_number(env, o, "chunk", 1, 1 << 20, &d)) return false;
  job->chunk = (int32_t)d;
  if (!get_number(env, o, "bufferSize", 4096, 64 << 20, &d)) return false;
  job->buffer_size = (size_t)d;
  if (!get_number(env, o, "largeFile", 0, 9007199254740991.0, &d)) return false;
  job->large_file = d;

  void *p;
  size_t len;
  uint64_t cap_counter, cap_status, cap_meta, cap_digests, cap_names, cap_offsets;
  if (!get_array(env, o, "counter", napi_int32_array, job, &p, &len, &cap_counter)) return false;
  job->counter = p;
  if (len < (stream ? 4u : 2u)) THROW("counter is too short");
  if (!get_array(env, o, "status", napi_int32_array, job, &p, &len, &cap_status)) return false;
  job->status = p;
  if (!get_array(env, o, "meta", napi_float64_array, job, &p, &len, &cap_meta)) return false;
  job->meta = p;
  if (!get_array(env, o, "digests", napi_uint8_array, job, &p, &len, &cap_digests)) return false;
  job->digests = p;
  if (!get_array(env, o, "names", napi_uint8_array, job, &p, &len, &cap_names)) return false;
  job->names = p;
  if (!get_array(env, o, "offsets", napi_uint32_array, job, &p, &len, &cap_offsets)) return false;
  job->offsets = p;
  /* Digests are also read as doubles (the large-file inode and device), and written by other threads. */
  if (((uintptr_t)job->digests % 8) != 0 || ((uintptr_t)job->meta % 8) != 0 || ((uintptr_t)job->status % 4) != 0 ||
      ((uintptr_t)job->offsets % 4) != 0 || ((uintptr_t)job->counter % 4) != 0) {
    THROW("a job array is misaligned");
  }
  job->names_cap = cap_names;

  if (stream) {
    if (!get_number(env, o, "maxFiles", 0, (double)INT32_MAX, &d)) return false;
    job->max_files = (int64_t)d;
  } else {
    if (!get_number(env, o, "count", 0, (double)INT32_MAX, &d)) return false;
    job->count = (int64_t)d;
    job->max_files = job->count;
  }
  uint64_t n = (uint64_t)job->max_files;
  if (cap_status < n * 4 || cap_meta < n * 16 || cap_digests < n * 32 || cap_offsets < (n + 1) * 4) {
    THROW("a job array is too short for its files");
  }
  if (!stream) {
    /* Every path must lie inside the name blob (a streamed job's are checked file by file). */
    if ((uint64_t)job->offsets[n] > cap_names) THROW("a path offset is out of range");
    for (uint64_t i = 0; i < n; i++) {
      if (job->offsets[i] > job->offsets[i + 1]) THROW("path offsets are not in order");
    }
  }
  return true;
}

/* ------------------------------------------------------------------------------------------ JS functions */

/* start(root, job, threads, done(error | null)) -> handle */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "start(root, job, threads, done)");
    return NULL;
  }
  napi_valuetype t;
  double threads;
  if (napi_typeof(env, argv[2], &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, argv[2], &threads) != napi_ok || !(threads >= 1 && threads <= MAX_THREADS)) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "threads must be 1 to 64");
    return NULL;
  }
  if (napi_typeof(env, argv[3], &t) != napi_ok || t != napi_function) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "done must be a function");
    return NULL;
  }
  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "out of memory");
    return NULL;
  }
  pthread_mutex_init(&job->lock, NULL);
  job->handles = 1;
  job->env = env;
  if (!read_job(env, argv[0], argv[1], job)) {
    drop_refs(env, job);
    job_release(job);
    return NULL;
  }
  napi_value name, handle;
  napi_create_string_utf8(env, "vouch.hash", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, NULL, NULL, job, call_done, &job->done) !=
      napi_ok) {
    drop_refs(env, job);
    job_release(job);
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "cannot create the completion callback");
    return NULL;
  }
  if (napi_create_external(env, job, finalize_handle, NULL, &handle) != napi_ok) {
    napi_release_threadsafe_function(job->done, napi_tsfn_abort);
    drop_refs(env, job);
    job_release(job);
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "cannot create the job handle");
    return NULL;
  }
  job->handles = 2; /* the handle (finalize_handle) and the completion (call_done) */
  if (add_threads(job, (int)threads) == 0) {
    /* No thread, so no completion: undo it here. The handle's finalizer releases the last hold. */
    job->finished = true;
    job->joined = true;
    napi_release_threadsafe_function(job->done, napi_tsfn_abort);
    drop_refs(env, job);
    job_release(job);
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "cannot start a thread");
    return NULL;
  }
  if (napi_add_env_cleanup_hook(env, cleanup_hook, job) == napi_ok) job->hook = true;
  return handle;
}

static job_t *handle_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  void *data = NULL;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
      napi_typeof(env, argv[0], &t) != napi_ok || t != napi_external ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "expected a job handle");
    return NULL;
  }
  return data;
}

/* addThreads(handle, k) -> threads started (0 once the job is over). */
static napi_value js_add_threads(napi_env env, napi_callback_info info) {
  napi_value argv[2], out;
  job_t *job = handle_arg(env, info, 2, argv);
  if (job == NULL) return NULL;
  double k;
  napi_valuetype t;
  if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_number || napi_get_value_double(env, argv[1], &k) != napi_ok ||
      !(k >= 0 && k <= MAX_THREADS)) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "addThreads(handle, 0 to 64)");
    return NULL;
  }
  int added = aborted(job) ? 0 : add_threads(job, (int)k);
  napi_create_int32(env, added, &out);
  return out;
}

/* stop(handle): the threads leave after the file they are on; returns once they all have. */
static napi_value js_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  job_t *job = handle_arg(env, info, 1, argv);
  if (job == NULL) return NULL;
  __atomic_store_n(&job->abort, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&job->lock);
  job->finished = true; /* no more threads */
  pthread_mutex_unlock(&job->lock);
  /* Once joined, never again: call_done (still to come, or past) and the cleanup hook see it. */
  join_all(job);
  return NULL;
}

/* address(typedArray) -> its data address (tests: a growing shared buffer must not move). */
static napi_value js_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  bool is;
  void *data = NULL;
  size_t length;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_is_typedarray(env, argv[0], &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, argv[0], NULL, &length, &data, NULL, NULL) != napi_ok) {
    napi_throw_error(env, "ERR_VOUCH_NATIVE", "expected a typed array");
    return NULL;
  }
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &out);
  return out;
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb) {
  napi_value fn;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok) {
    napi_set_named_property(env, exports, name, fn);
  }
}

__attribute__((visibility("default"))) napi_value napi_register_module_v1(napi_env env, napi_value exports) {
  export_fn(env, exports, "start", js_start);
  export_fn(env, exports, "addThreads", js_add_threads);
  export_fn(env, exports, "stop", js_stop);
  export_fn(env, exports, "address", js_address);
  return exports;
}
