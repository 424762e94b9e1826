// `crawl run`: crawl URL lists and store every page.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "cli/commands.hpp"
#include "cli/summary.hpp"
#include "common/units.hpp"
#include "common/usage_error.hpp"
#include "crawler/run.hpp"
#include "parsers/html.hpp"
#include "storage/since.hpp"
#include "storage/writer.hpp"

namespace crawl::cli {
namespace {

struct RunFlags {
  std::vector<std::string> files;
  std::vector<std::string> urls;
  std::string mode = "fiber";
  std::optional<int> concurrency;
  std::optional<int> processes, threads, fibers;
  int queue = 1000;
  int consumers = 0;
  int callback_threads = 2;
  bool no_parse = false;
  std::string parser = "gumbo";
  std::string db = "crawl.db";
  std::string timeout = "30s";
  std::string connect_timeout = "10s";
  std::string max_size = "10M";
  std::string queue_bytes = "256M";
  int max_redirects = 10;
  std::string user_agent = std::string("crawl/") + CRAWL_VERSION;
  bool insecure = false;
  std::string cacert, capath;
  std::string jsonl;
  std::string save_bodies;
  int depth = 0;
  std::string scope = "host";
  std::vector<std::string> include, exclude;
  int64_t max_pages = 0;
  std::string order = "bfs";
  bool store_links = false;
  std::optional<int> per_host;
  std::string delay = "0s";
  std::string jitter = "0s";
  std::string robots;
  int retries = 2;
  std::string max_retry_wait = "60s";
  std::vector<std::string> headers;
  std::string proxy;
  bool cookies = false;
  std::optional<int64_t> since;
  std::optional<bool> progress;
  bool fail = false;
  bool print_urls = false;
  bool quiet = false;
  std::string bench_id;
  std::string sync = "normal";
  bool shared = false;
  std::string lease_ttl = "30s";
};

// The flags that decide what a run crawls: `crawl resume` takes them from the run and refuses them
// on its command line. The others only change how it runs (layout, queues, timeouts, outputs).
constexpr const char* kWhatFlags[] = {"--url",         "--no-parse", "--max-size",       "--max-redirects",
                                      "--user-agent",  "--insecure", "--depth",          "--scope",
                                      "--include",     "--exclude",  "--max-pages",      "--order",
                                      "--store-links", "--per-host", "--delay",          "--jitter",
                                      "--robots",      "--retries",  "--max-retry-wait", "--header",
                                      "--proxy",       "--cookies",  "--bench-id",       "--cacert",
                                      "--capath",      "--shared",   "--parser",         "--since"};

std::string absolute_path(const std::string& name) {
  if (name == "-" || name.starts_with('/')) return name;
  char buffer[4096];
  if (!getcwd(buffer, sizeof buffer)) return name;
  return std::string(buffer) + "/" + name;
}

// The run's settings as stored with it (runs.settings): its lists, with where they are, and every
// flag. A resumed run is continued with the first group; the second is its default layout.
nlohmann::json settings_of(const RunFlags& f) {
  nlohmann::json lists = nlohmann::json::array();
  for (const auto& name : f.files) lists.push_back({{"name", name}, {"path", absolute_path(name)}});
  return {{"lists", lists},
          {"urls", f.urls},
          {"no_parse", f.no_parse},
          {"parser", f.parser},
          {"max_size", f.max_size},
          {"max_redirects", f.max_redirects},
          {"user_agent", f.user_agent},
          {"insecure", f.insecure},
          {"depth", f.depth},
          {"scope", f.scope},
          {"include", f.include},
          {"exclude", f.exclude},
          {"max_pages", f.max_pages},
          {"order", f.order},
          {"store_links", f.store_links},
          {"per_host", f.per_host ? nlohmann::json(*f.per_host) : nlohmann::json()},
          {"delay", f.delay},
          {"jitter", f.jitter},
          {"robots", f.robots},
          {"retries", f.retries},
          {"max_retry_wait", f.max_retry_wait},
          {"headers", f.headers},
          {"proxy", f.proxy},
          {"cookies", f.cookies},
          {"since", f.since ? nlohmann::json(*f.since) : nlohmann::json()},
          {"cacert", f.cacert.empty() ? f.cacert : absolute_path(f.cacert)},
          {"capath", f.capath.empty() ? f.capath : absolute_path(f.capath)},
          {"layout",
           {{"mode", f.mode},
            {"concurrency", f.concurrency ? nlohmann::json(*f.concurrency) : nlohmann::json()},
            {"processes", f.processes ? nlohmann::json(*f.processes) : nlohmann::json()},
            {"threads", f.threads ? nlohmann::json(*f.threads) : nlohmann::json()},
            {"fibers", f.fibers ? nlohmann::json(*f.fibers) : nlohmann::json()},
            {"queue", f.queue},
            {"queue_bytes", f.queue_bytes},
            {"consumers", f.consumers},
            {"callback_threads", f.callback_threads},
            {"timeout", f.timeout},
            {"connect_timeout", f.connect_timeout},
            {"sync", f.sync}}}};
}

Mode parse_mode(const std::string& name) {
  if (name == "fiber") return Mode::fiber;
  if (name == "thread") return Mode::thread;
  if (name == "process") return Mode::process;
  if (name == "hybrid") return Mode::hybrid;
  throw UsageError("--mode '" + name + "' is not a mode: use fiber, thread, process or hybrid");
}

// RFC 9110 token characters: what a header name may be made of.
bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// libcurl sends a header line as given, so a CR or LF in it would start another header (or end
// the request head); the name must be a token for the server to read it as one.
void check_header(const std::string& h) {
  auto printable = [](const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '\r')
        out += "\\r";
      else if (c == '\n')
        out += "\\n";
      else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
        out += '?';
      else
        out += c;
    }
    return out;
  };
  const auto colon = h.find(':');
  if (colon == std::string::npos || colon == 0 ||
      !std::all_of(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(colon), is_token_char))
    throw UsageError("--header '" + printable(h) +
                     "' is not a header: write it as 'Name: value', the name without spaces");
  if (h.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
    throw UsageError("--header '" + printable(h) +
                     "' holds a line break or NUL, which would start another header: give each header "
                     "with its own --header");
}

RunOptions options_from(const RunFlags& f, const std::string& command_line) {
  RunOptions o;
  o.inputs.files = f.files;
  o.inputs.urls = f.urls;
  const Mode mode = parse_mode(f.mode);
  // Silently ignoring a layout flag would run something other than what was asked for.
  if (mode != Mode::hybrid && (f.processes || f.threads || f.fibers))
    throw UsageError("--processes, --threads and --fibers shape hybrid mode; with --mode " + f.mode +
                     " give the number of fetches in flight with -c, or use --mode hybrid");
  o.layout =
      make_layout(mode, f.concurrency, f.processes.value_or(1), f.threads.value_or(1), f.fibers.value_or(1));
  if (f.queue < 1) throw UsageError("--queue must be at least 1");
  if (f.consumers < 0) throw UsageError("--consumers must be at least 1 (or 0 for one per core)");
  if (f.callback_threads < 1) throw UsageError("--callback-threads must be at least 1");
  if (f.max_redirects < 0) throw UsageError("--max-redirects must be 0 or more");
  o.queue_capacity = static_cast<size_t>(f.queue);
  o.queue_bytes = parse_size(f.queue_bytes, "--queue-bytes");
  o.consumers = f.consumers;
  o.callback_threads = f.callback_threads;
  o.parse = !f.no_parse;
  const auto parser = parsers::parser_named(f.parser);
  if (!parser) throw UsageError("--parser must be gumbo or libxml2, not '" + f.parser + "'");
  if (f.no_parse && *parser != parsers::HtmlParser::gumbo)
    throw UsageError("--parser needs the pages parsed: drop --no-parse or --parser");
  o.parser = *parser;
  o.db_path = f.db;
  o.fetch.timeout = parse_duration(f.timeout, "--timeout");
  o.fetch.connect_timeout = parse_duration(f.connect_timeout, "--connect-timeout");
  if (o.fetch.timeout.count() <= 0) throw UsageError("--timeout must be more than 0");
  o.fetch.max_body_bytes = parse_positive_size(f.max_size, "--max-size");
  o.fetch.max_redirects = f.max_redirects;
  if (f.since) {
    if (f.shared) throw UsageError("--since and --shared cannot go together yet: re-crawl with one process");
    try {
      o.fetch.since =
          std::make_shared<const storage::EarlierPages>(storage::load_earlier_pages(f.db, *f.since));
    } catch (const std::runtime_error& e) {  // the database cannot be read, has no such run, or is not there
      throw UsageError("--since " + std::to_string(*f.since) + ": " + e.what());
    }
  }
  o.fetch.user_agent = f.user_agent;
  o.fetch.verify_tls = !f.insecure;
  if (!f.cacert.empty()) {
    if (std::string problem = check_ca_file(f.cacert); !problem.empty()) throw UsageError(problem);
    o.fetch.trust.ca_file = f.cacert;
  }
  if (!f.capath.empty()) {
    if (std::string problem = check_ca_path(f.capath); !problem.empty()) throw UsageError(problem);
    o.fetch.trust.ca_path = f.capath;
  }
  o.follow.max_depth = f.depth;
  if (f.scope == "host")
    o.follow.scope = Scope::host;
  else if (f.scope == "domain")
    o.follow.scope = Scope::domain;
  else if (f.scope == "any")
    o.follow.scope = Scope::any;
  else
    throw UsageError("--scope '" + f.scope + "' is not a scope: use host, domain or any");
  o.follow.include = f.include;
  o.follow.exclude = f.exclude;
  o.follow.max_pages = f.max_pages;
  if (f.order != "bfs" && f.order != "dfs")
    throw UsageError("--order '" + f.order +
                     "' is not an order: use bfs (breadth-first) or dfs (depth-first)");
  o.follow.depth_first = f.order == "dfs";
  o.follow.store_links = f.store_links;
  if (f.store_links && f.no_parse) throw UsageError("--store-links needs the pages parsed: drop --no-parse");
  if (f.per_host && *f.per_host < 0) throw UsageError("--per-host must be 0 (no limit) or more");
  o.politeness.per_host = f.per_host.value_or(-1);
  o.politeness.delay = parse_duration(f.delay, "--delay");
  o.politeness.jitter = parse_duration(f.jitter, "--jitter");
  if (f.robots == "on")
    o.politeness.robots = true;
  else if (f.robots == "off")
    o.politeness.robots = false;
  else if (!f.robots.empty())
    throw UsageError("--robots '" + f.robots + "': use on or off");
  o.politeness.retries = f.retries;
  o.politeness.max_retry_wait = parse_duration(f.max_retry_wait, "--max-retry-wait");
  for (const auto& h : f.headers) check_header(h);
  o.fetch.headers = f.headers;
  o.fetch.proxy = f.proxy;
  o.fetch.cookies = f.cookies;
  o.command_line = command_line;
  o.bench_id = f.bench_id;
  // Asked for, or by default on a terminal: rewritten in place there, plain lines for a log.
  const bool terminal = isatty(STDERR_FILENO) == 1;
  o.progress = f.quiet || !f.progress.value_or(terminal) ? ProgressStyle::none
               : terminal                                ? ProgressStyle::terminal
                                                         : ProgressStyle::plain;
  if (f.sync != "normal" && f.sync != "full")
    throw UsageError("--sync '" + f.sync + "': use normal (survives a crash) or full (survives a power cut)");
  o.synchronous_full = f.sync == "full";
  o.shared = f.shared;
  const auto ttl = parse_duration(f.lease_ttl, "--lease-ttl");
  if (ttl < std::chrono::milliseconds(500))
    throw UsageError("--lease-ttl must be at least 500ms (a lease is renewed three times in that time)");
  o.lease_ttl_s = std::chrono::duration<double>(ttl).count();
  if (o.shared && f.max_pages > 0)
    throw UsageError(
        "--max-pages counts one process's URLs and cannot bound a shared run: drop --shared or --max-pages");
  return o;
}

int execute(RunOptions o, const RunFlags& f) {
  // --save-bodies names files after the run's id and start time, known once the database has the
  // run row (and before any page reaches a callback).
  auto stamp = std::make_shared<RunStamp>();
  if (f.print_urls && f.jsonl == "-")
    throw UsageError("--print-urls and --jsonl - both write to stdout: give --jsonl a file, or drop one");
  if (!f.jsonl.empty()) o.callbacks.on_page.push_back(make_jsonl_writer(f.jsonl, stamp));
  if (f.print_urls) {
    // Coloured for a terminal, unless the user's NO_COLOR says otherwise (no-color.org).
    const char* no_colour = std::getenv("NO_COLOR");
    o.callbacks.on_page.push_back(
        make_url_printer(isatty(STDOUT_FILENO) == 1 && (no_colour == nullptr || *no_colour == '\0')));
  }
  if (!f.save_bodies.empty()) {
    o.callbacks.on_page.push_back(make_body_saver(f.save_bodies, stamp));
    o.callbacks.needs_bodies = true;
  }
  o.callbacks.on_run_start.push_back([stamp](int64_t id, double started_at) {
    stamp->run_id.store(id);
    stamp->started_at.store(started_at);
  });
  RunSummary summary = run_crawl(o);
  // With --jsonl -, stdout carries the pages; the summary moves to stderr.
  std::ostream& out = f.jsonl == "-" ? std::cerr : std::cout;
  if (!f.quiet) print_summary(summary, out);
  // The summary may be going to a file or a pipe: say on stderr, in one line, why the run failed.
  if (!summary.failure.empty()) std::cerr << "crawl: " << summary.failure << '\n';
  return exit_code(summary, f.fail);
}

int run(const RunFlags& f, const std::string& command_line) {
  if (f.files.empty() && f.urls.empty())
    throw UsageError("no URLs given: pass a URL list file, '-' for stdin, or --url URL");
  RunOptions o = options_from(f, command_line);
  o.settings = settings_of(f).dump();
  return execute(std::move(o), f);
}

template <typename T>
void take(const nlohmann::json& j, const char* key, T& into) {
  if (j.contains(key) && !j[key].is_null()) into = j[key].get<T>();
}

template <typename T>
void take(const nlohmann::json& j, const char* key, std::optional<T>& into) {
  if (j.contains(key) && !j[key].is_null()) into = j[key].get<T>();
}

// `crawl resume`: the run's own settings, with the flags that only change how it runs given again.
int resume(const RunFlags& given, const CLI::App& cmd, std::optional<int64_t> run_id,
           const std::string& command_line) {
  for (const char* flag : kWhatFlags)
    if (cmd.count(flag) > 0)
      throw UsageError(
          std::string(flag) +
          " decides what the run crawls, which a resumed run keeps: drop it (or start a new run)");
  const storage::RunToResume found = storage::find_run_to_resume(given.db, run_id);
  RunFlags f;
  std::vector<std::string> paths;
  try {
    const auto j = nlohmann::json::parse(found.settings);
    for (const auto& list : j.at("lists")) {
      f.files.push_back(list.at("name").get<std::string>());
      paths.push_back(list.at("path").get<std::string>());
    }
    take(j, "urls", f.urls);
    take(j, "no_parse", f.no_parse);
    take(j, "parser", f.parser);
    take(j, "max_size", f.max_size);
    take(j, "max_redirects", f.max_redirects);
    take(j, "user_agent", f.user_agent);
    take(j, "insecure", f.insecure);
    take(j, "depth", f.depth);
    take(j, "scope", f.scope);
    take(j, "include", f.include);
    take(j, "exclude", f.exclude);
    take(j, "max_pages", f.max_pages);
    take(j, "order", f.order);
    take(j, "store_links", f.store_links);
    take(j, "per_host", f.per_host);
    take(j, "delay", f.delay);
    take(j, "jitter", f.jitter);
    take(j, "robots", f.robots);
    take(j, "retries", f.retries);
    take(j, "max_retry_wait", f.max_retry_wait);
    take(j, "headers", f.headers);
    take(j, "proxy", f.proxy);
    take(j, "cookies", f.cookies);
    take(j, "since", f.since);
    take(j, "cacert", f.cacert);
    take(j, "capath", f.capath);
    const auto& layout = j.at("layout");
    // The layout is the run's unless given again; a new --mode brings its own defaults.
    if (cmd.count("--mode") == 0) {
      take(layout, "mode", f.mode);
      if (cmd.count("-c") == 0) take(layout, "concurrency", f.concurrency);
      if (cmd.count("--processes") + cmd.count("--threads") + cmd.count("--fibers") == 0) {
        take(layout, "processes", f.processes);
        take(layout, "threads", f.threads);
        take(layout, "fibers", f.fibers);
      }
    }
    auto keep = [&](const char* flag, const char* key, auto& into) {
      if (cmd.count(flag) == 0) take(layout, key, into);
    };
    keep("--queue", "queue", f.queue);
    keep("--queue-bytes", "queue_bytes", f.queue_bytes);
    keep("--consumers", "consumers", f.consumers);
    keep("--callback-threads", "callback_threads", f.callback_threads);
    keep("--timeout", "timeout", f.timeout);
    keep("--connect-timeout", "connect_timeout", f.connect_timeout);
    keep("--sync", "sync", f.sync);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("run " + std::to_string(found.id) + " has settings this crawl cannot read (" + e.what() +
                     "): start a new run");
  }
  // What may change: given now.
  auto given_if = [&](const char* flag, auto& into, const auto& value) {
    if (cmd.count(flag) > 0) into = value;
  };
  given_if("--mode", f.mode, given.mode);
  given_if("-c", f.concurrency, given.concurrency);
  given_if("--processes", f.processes, given.processes);
  given_if("--threads", f.threads, given.threads);
  given_if("--fibers", f.fibers, given.fibers);
  given_if("--queue", f.queue, given.queue);
  given_if("--queue-bytes", f.queue_bytes, given.queue_bytes);
  given_if("--consumers", f.consumers, given.consumers);
  given_if("--callback-threads", f.callback_threads, given.callback_threads);
  given_if("--timeout", f.timeout, given.timeout);
  given_if("--connect-timeout", f.connect_timeout, given.connect_timeout);
  given_if("--sync", f.sync, given.sync);
  f.db = given.db;
  f.jsonl = given.jsonl;
  f.save_bodies = given.save_bodies;
  f.progress = given.progress;
  f.fail = given.fail;
  f.print_urls = given.print_urls;
  f.quiet = given.quiet;
  given_if("--lease-ttl", f.lease_ttl, given.lease_ttl);
  RunOptions o = options_from(f, command_line);
  o.inputs.paths = std::move(paths);
  o.settings = found.settings;
  o.resume_run = found.id;
  o.shared = found.shared;
  return execute(std::move(o), f);
}

// The flags of `crawl run`, and of `crawl resume` (which refuses those that decide what is crawled),
// grouped as users look for them in --help, with their values' forms and their defaults. The short
// flags are curl's and wget's: -H, -A, -x, -k, -q, -v.
void declare_run_flags(CLI::App* cmd, const std::shared_ptr<RunFlags>& flags) {
  constexpr const char* kDuration = "DURATION";  // 30s, 500ms, 2m; a bare number is seconds
  const auto group = [](CLI::Option* option, const char* name) { return option->group(name); };
  // CLI11 lets an option that fills a vector take every word after it, so `--url URL list.txt`
  // would swallow the list; allow_extra_args(false) makes each repeatable option take exactly one
  // value per occurrence.
  const char* input = "Input";
  group(cmd->add_option("--url", flags->urls, "A URL to crawl (repeatable)")
            ->allow_extra_args(false)
            ->type_name("URL"),
        input);
  group(cmd->add_option("--include", flags->include,
                        "Fetch and follow only URLs matching this regex (repeatable)")
            ->allow_extra_args(false)
            ->type_name("REGEX"),
        input);
  group(cmd->add_option("--exclude", flags->exclude, "Skip URLs matching this regex (repeatable)")
            ->allow_extra_args(false)
            ->type_name("REGEX"),
        input);
  group(cmd->add_option("--max-pages", flags->max_pages, "Fetch at most this many URLs in all (0: no limit)")
            ->capture_default_str(),
        input);

  const char* concurrency = "Concurrency";
  group(cmd->add_option("--mode", flags->mode, "Execution layout (see the README)")
            ->type_name("fiber|thread|process|hybrid")
            ->capture_default_str(),
        concurrency);
  group(cmd->add_option("-c,--concurrency", flags->concurrency, "Fetches in flight [64]"), concurrency);
  group(cmd->add_option("--processes", flags->processes, "Hybrid mode: worker processes"), concurrency);
  group(cmd->add_option("--threads", flags->threads, "Hybrid mode: producer threads per process"),
        concurrency);
  group(cmd->add_option("--fibers", flags->fibers, "Hybrid mode: fibers per thread"), concurrency);
  group(cmd->add_option("--queue", flags->queue, "Fetched pages that may wait for a consumer")
            ->capture_default_str(),
        concurrency);
  group(cmd->add_option("--queue-bytes", flags->queue_bytes,
                        "Body bytes that may wait for a consumer, all pages together (0: no bound)")
            ->type_name("SIZE")
            ->capture_default_str(),
        concurrency);
  group(
      cmd->add_option("--consumers", flags->consumers, "Parsing threads [one per core; one with --no-parse]"),
      concurrency);
  group(cmd->add_option("--callback-threads", flags->callback_threads, "Threads that run callbacks")
            ->capture_default_str(),
        concurrency);
  group(cmd->add_flag("--no-parse", flags->no_parse, "Fetch only: store status and sizes, keep no bodies"),
        concurrency);
  group(
      cmd->add_option("--parser", flags->parser,
                      "HTML parser: a full tree as browsers build it, or a stream several times faster (see "
                      "the README for where they differ)")
          ->type_name("gumbo|libxml2")
          ->capture_default_str(),
      concurrency);

  const char* http = "HTTP";
  group(cmd->add_option("--timeout", flags->timeout,
                        "Whole-transfer timeout (30s, 500ms, 2m; a bare number is seconds)")
            ->type_name(kDuration)
            ->capture_default_str(),
        http);
  group(cmd->add_option("--connect-timeout", flags->connect_timeout, "Connect timeout")
            ->type_name(kDuration)
            ->capture_default_str(),
        http);
  group(cmd->add_option("--max-size", flags->max_size, "Largest body kept, after decoding (512k, 10M, 1G)")
            ->type_name("SIZE")
            ->capture_default_str(),
        http);
  group(cmd->add_option("--max-redirects", flags->max_redirects, "Redirects followed per URL")
            ->capture_default_str(),
        http);
  group(cmd->add_option("-A,--user-agent", flags->user_agent, "User-Agent header")->capture_default_str(),
        http);
  group(cmd->add_option("-H,--header", flags->headers, "Extra request header (repeatable)")
            ->allow_extra_args(false)
            ->type_name("'NAME: VALUE'"),
        http);
  group(cmd->add_option("-x,--proxy", flags->proxy, "Proxy [libcurl's http_proxy/https_proxy variables]")
            ->type_name("URL"),
        http);
  group(cmd->add_flag("--cookies", flags->cookies, "Keep the cookies sites set (off by default)"), http);
  group(cmd->add_option("--since", flags->since,
                        "Re-crawl: ask only whether each page changed since run RUN (If-None-Match, "
                        "If-Modified-Since); a 304 keeps that run's facts")
            ->type_name("RUN"),
        http);
  group(cmd->add_flag("-k,--insecure", flags->insecure, "Do not verify TLS certificates"), http);
  group(cmd->add_option("--cacert", flags->cacert,
                        "Trust the CA certificates in this PEM file instead of the system's")
            ->type_name("FILE"),
        http);
  group(cmd->add_option("--capath", flags->capath,
                        "Trust the CA certificates in this hashed directory (openssl rehash) instead of the "
                        "system's")
            ->type_name("DIR"),
        http);
  group(cmd->add_option(
               "--retries", flags->retries,
               "Retries of transient failures (connect, timeout, reset; HTTP 408, 429, 500, 502, 503, 504)")
            ->capture_default_str(),
        http);
  group(cmd->add_option("--max-retry-wait", flags->max_retry_wait,
                        "Longest wait before a retry (Retry-After too)")
            ->type_name(kDuration)
            ->capture_default_str(),
        http);

  const char* following = "Following links and politeness";
  group(cmd->add_option("--depth", flags->depth,
                        "Follow links this many levels from the list (0: the list only)")
            ->capture_default_str(),
        following);
  group(cmd->add_option("--scope", flags->scope, "Which links to follow, relative to each list URL")
            ->type_name("host|domain|any")
            ->capture_default_str(),
        following);
  group(cmd->add_option("--order", flags->order, "Breadth-first or depth-first when following links")
            ->type_name("bfs|dfs")
            ->capture_default_str(),
        following);
  group(
      cmd->add_flag("--store-links", flags->store_links, "Also store every page's links in the links table"),
      following);
  group(cmd->add_option("--per-host", flags->per_host,
                        "Fetches in flight per host [no limit for a list, 8 with --depth]"),
        following);
  group(cmd->add_option("--delay", flags->delay, "Time between the starts of two fetches to one host")
            ->type_name(kDuration)
            ->capture_default_str(),
        following);
  group(cmd->add_option("--jitter", flags->jitter, "Up to this much added at random to each --delay")
            ->type_name(kDuration)
            ->capture_default_str(),
        following);
  group(cmd->add_option("--robots", flags->robots, "Obey robots.txt [off for a list, on with --depth]")
            ->type_name("on|off"),
        following);

  const char* output = "Output";
  group(
      cmd->add_flag(
          "--progress", [flags](int64_t) { flags->progress = true; },
          "How far the crawl is, on stderr: rewritten in place on a terminal, a plain line every 5 s and at "
          "the end in a log [on a terminal]"),
      output);
  group(cmd->add_flag(
            "--no-progress", [flags](int64_t) { flags->progress = false; }, "No progress line"),
        output);
  group(cmd->add_flag("-v,--print-urls", flags->print_urls,
                      "A line per URL on stdout as it finishes: URL [status] [size] [title] [time]"),
        output);
  group(cmd->add_flag("-q,--quiet", flags->quiet,
                      "No progress line and no summary: errors only, and the exit status"),
        output);
  group(
      cmd->add_flag("--fail", flags->fail, "Exit with status 22 when the run completed but some URLs failed"),
      output);
  group(cmd->add_option("--jsonl", flags->jsonl, "Also stream each page's row as a JSON object ('-': stdout)")
            ->type_name("FILE"),
        output);
  group(cmd->add_option("--save-bodies", flags->save_bodies,
                        "Save each body as DIR/<started>-<run>-<seq>.<ext>")
            ->type_name("DIR"),
        output);

  const char* storage = "Storage";
  group(cmd->add_option("--db", flags->db, "SQLite file or postgresql:// URI")
            ->type_name("FILE|URI")
            ->capture_default_str(),
        storage);
  group(
      cmd->add_option("--sync", flags->sync, "When a commit is durable: a crash of crawl, or a power cut too")
          ->type_name("normal|full")
          ->capture_default_str(),
      storage);
  group(cmd->add_flag("--shared", flags->shared,
                      "Let other workers join the run (crawl resume RUN on any machine with the same --db)"),
        storage);
  group(cmd->add_option("--lease-ttl", flags->lease_ttl,
                        "Shared runs: how long a worker's hold on a host lasts unless renewed")
            ->type_name(kDuration)
            ->capture_default_str(),
        storage);
  // Set by `crawl bench` on the runs it starts; hidden from --help.
  cmd->add_option("--bench-id", flags->bench_id, "Tag the run as part of a crawl bench")->group("");
}

}  // namespace

void add_run_command(CLI::App& app, Runner& runner, const std::string& command_line) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "Crawl URL lists and store every page in SQLite");
  cmd->add_option("lists", flags->files, "URL list files (one URL per line; '-' reads stdin)");
  declare_run_flags(cmd, flags);
  cmd->callback([flags, &runner, command_line] {
    runner = [flags, command_line] { return run(*flags, command_line); };
  });

  auto resumed = std::make_shared<RunFlags>();
  auto run_id = std::make_shared<std::optional<int64_t>>();
  CLI::App* resume_cmd = app.add_subcommand(
      "resume", "Continue a run that was interrupted or crashed (default: the latest one not completed)");
  resume_cmd->add_option("run", *run_id, "The run's id (crawl runs lists them)");
  declare_run_flags(resume_cmd, resumed);
  resume_cmd->callback([resumed, run_id, resume_cmd, &runner, command_line] {
    runner = [resumed, run_id, resume_cmd, command_line] {
      return resume(*resumed, *resume_cmd, *run_id, command_line);
    };
  });
}

}  // namespace crawl::cli
