/* floor_with_options: curl_floor (shared/tools/curl_floor.c) with the libcurl settings crawl puts on
 * every transfer, each switched on by name, to measure what each costs libcurl itself:
 *
 *   floor_with_options URLFILE CONCURRENCY [OPTION,...]
 *
 *   headers    the two request header lines crawl sends (User-Agent, Accept-Encoding), with libcurl's
 *              decoding on (CURLOPT_ACCEPT_ENCODING "") and its own User-Agent off
 *   timeouts   CURLOPT_TIMEOUT_MS and CURLOPT_CONNECTTIMEOUT_MS
 *   redirects  CURLOPT_FOLLOWLOCATION, MAXREDIRS, AUTOREFERER, and the http,https protocol lists
 *   getinfo    what crawl reads of every finished transfer (13 curl_easy_getinfo, 2 curl_easy_header)
 *
 * Prints what curl_floor prints. Against a server that answers fast, run under
 * `valgrind --tool=callgrind` it counts the instructions each setting adds per request, which a
 * wall clock on a shared machine cannot resolve (perf/RESULTS.md, "W2: where the rest goes").
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

static int epfd;
static double deadline = -1;
static const char *options = "";
static struct curl_slist *header_lines;

static int wanted(const char *name) {
  size_t n = strlen(name);
  for (const char *p = options; (p = strstr(p, name)) != NULL; p += n)
    if ((p == options || p[-1] == ',') && (p[n] == '\0' || p[n] == ',')) return 1;
  return 0;
}
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static size_t on_body(char *p, size_t s, size_t n, void *u) {
  (void)p;
  *(size_t *)u += s * n;
  return s * n;
}
static int on_socket(CURL *e, curl_socket_t s, int what, void *multi, void *known) {
  (void)e;
  struct epoll_event ev = {0};
  ev.data.fd = s;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
    return 0;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  if (!known) {
    epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
    curl_multi_assign(multi, s, (void *)1);
  } else {
    epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev);
  }
  return 0;
}
static int on_timer(CURLM *m, long ms, void *u) {
  (void)m, (void)u;
  deadline = ms < 0 ? -1 : now() + ms / 1000.0;
  return 0;
}
static void configure(CURL *e) {
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  if (wanted("headers")) {
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, NULL);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_lines);
  }
  if (wanted("timeouts")) {
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
  }
  if (wanted("redirects")) {
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_AUTOREFERER, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  }
}
/* What crawl reads of every finished transfer (crawler/fetch.cpp), by the type each answer has. */
static const CURLINFO text_infos[] = {CURLINFO_EFFECTIVE_URL, CURLINFO_CONTENT_TYPE, CURLINFO_PRIMARY_IP};
static const CURLINFO long_infos[] = {CURLINFO_REDIRECT_COUNT, CURLINFO_NUM_CONNECTS, CURLINFO_HTTP_VERSION};
static const CURLINFO off_infos[] = {CURLINFO_SIZE_DOWNLOAD_T,      CURLINFO_RETRY_AFTER,
                                     CURLINFO_NAMELOOKUP_TIME_T,    CURLINFO_CONNECT_TIME_T,
                                     CURLINFO_APPCONNECT_TIME_T,    CURLINFO_STARTTRANSFER_TIME_T,
                                     CURLINFO_TOTAL_TIME_T};
static const char *const headers_read[] = {"ETag", "Last-Modified"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void read_info(CURL *e) {
  if (!wanted("getinfo")) return;
  char *s;
  long l;
  curl_off_t o;
  struct curl_header *h;
  for (size_t i = 0; i < COUNT(text_infos); i++) curl_easy_getinfo(e, text_infos[i], &s);
  for (size_t i = 0; i < COUNT(long_infos); i++) curl_easy_getinfo(e, long_infos[i], &l);
  for (size_t i = 0; i < COUNT(off_infos); i++) curl_easy_getinfo(e, off_infos[i], &o);
  for (size_t i = 0; i < COUNT(headers_read); i++) curl_easy_header(e, headers_read[i], 0, CURLH_HEADER, -1, &h);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s URLFILE CONCURRENCY [headers,timeouts,redirects,getinfo]\n", argv[0]);
    return 2;
  }
  if (argc > 3) options = argv[3];
  FILE *f = fopen(argv[1], "r");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  int conc = atoi(argv[2]), n = 0, cap = 0;
  char line[4096], **urls = NULL;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#') continue;
    if (n == cap) urls = realloc(urls, (cap = cap ? cap * 2 : 1024) * sizeof *urls);
    urls[n++] = strdup(line);
  }
  fclose(f);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  /* crawl's lines: its default User-Agent and what this libcurl decodes (crawler/fetch.cpp). */
  header_lines = curl_slist_append(NULL, "User-Agent: crawl/0.1.0");
  header_lines = curl_slist_append(header_lines, "Accept-Encoding: deflate, gzip, br, zstd");
  CURLM *m = curl_multi_init();
  epfd = epoll_create1(0);
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conc);
  size_t *bytes = calloc(n ? n : 1, sizeof *bytes);
  int next = 0, running = 0, done = 0;
  long ok = 0;
  double t0 = now();
  for (int i = 0; i < conc && next < n; i++, next++) {
    CURL *e = curl_easy_init();
    configure(e);
    curl_easy_setopt(e, CURLOPT_URL, urls[next]);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &bytes[next]);
    curl_multi_add_handle(m, e);
  }
  struct epoll_event evs[1024];
  while (done < n) {
    int wait_ms = 1000;
    if (deadline >= 0) {
      double left = (deadline - now()) * 1000.0;
      wait_ms = left <= 0 ? 0 : (int)left + 1;
    }
    int nev = epoll_wait(epfd, evs, 1024, wait_ms);
    for (int i = 0; i < nev; i++) {
      int fl = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) | (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
               (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(m, evs[i].data.fd, fl, &running);
    }
    if (deadline >= 0 && now() >= deadline) {
      deadline = -1;
      curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    CURLMsg *msg;
    int q;
    while ((msg = curl_multi_info_read(m, &q))) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL *e = msg->easy_handle;
      long code = 0;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      read_info(e);
      ok += code == 200;
      done++;
      curl_multi_remove_handle(m, e);
      if (next < n) {
        curl_easy_setopt(e, CURLOPT_URL, urls[next]);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &bytes[next]);
        next++;
        curl_multi_add_handle(m, e);
      } else {
        curl_easy_cleanup(e);
      }
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("n=%d ok=%ld wall=%.3f user=%.2f sys=%.2f maxrss=%ldMB\n", n, ok, now() - t0,
         ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6, ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
         ru.ru_maxrss / 1024);
  return 0;
}
