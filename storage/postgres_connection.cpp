#include <libpq-fe.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/connection.hpp"

namespace crawl::storage {
namespace {

// PostgreSQL's type oids (pg_type.dat) for the columns crawl reads.
constexpr Oid kBool = 16, kBytea = 17, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
              kFloat8 = 701, kNumeric = 1700;

// Storage's SQL numbers its parameters SQLite's way (`?` left to right, or `?N`); PostgreSQL wants
// `$N`. Quoted text, quoted names and comments are copied as they are.
struct Translated {
  std::string sql;
  int parameters = 0;
};

Translated translate_parameters(std::string_view sql) {
  Translated out;
  out.sql.reserve(sql.size() + 16);
  int highest = 0;
  for (size_t i = 0; i < sql.size();) {
    const char c = sql[i];
    if (c == '\'' || c == '"') {
      size_t end = i + 1;
      while (end < sql.size()) {
        if (sql[end] == c) {
          if (end + 1 < sql.size() && sql[end + 1] == c) {  // '' inside '...' is one quote
            end += 2;
            continue;
          }
          break;
        }
        ++end;
      }
      end = std::min(end + 1, sql.size());
      out.sql.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size();
      out.sql.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      end = end == std::string_view::npos ? sql.size() : end + 2;
      out.sql.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '?') {
      size_t end = i + 1;
      int number = 0;
      while (end < sql.size() && sql[end] >= '0' && sql[end] <= '9')
        number = number * 10 + (sql[end++] - '0');
      if (end == i + 1) number = highest + 1;
      highest = std::max(highest, number);
      out.sql += '$';
      out.sql += std::to_string(number);
      i = end;
    } else {
      out.sql += c;
      ++i;
    }
  }
  out.parameters = highest;
  return out;
}

// libpq's messages span lines ("...: Connection refused\n\tIs the server running on that host...",
// one line per address tried, DETAIL and HINT lines): crawl's errors are one line, so the lines are
// joined with "; ".
std::string one_line(const char* message) {
  std::string text;
  bool line_break = false;
  for (const char* c = message ? message : ""; *c; ++c) {
    if (*c == '\n' || *c == '\r') {
      line_break = true;
      continue;
    }
    if (line_break && (*c == '\t' || *c == ' ')) continue;
    if (line_break && !text.empty()) text += "; ";
    line_break = false;
    text += *c;
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

struct ClearResult {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ClearResult>;

// The message of a failed command, with its SQLSTATE so that a user can look it up.
std::string error_of(PGconn* conn, const PGresult* result) {
  std::string why = one_line(result ? PQresultErrorMessage(result) : PQerrorMessage(conn));
  if (why.empty()) why = one_line(PQerrorMessage(conn));
  if (const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr)
    why += std::string(" (SQLSTATE ") + state + ")";
  if (PQstatus(conn) == CONNECTION_BAD) why += ": the connection to the PostgreSQL server is lost";
  return why;
}

// A statement's failure, with the server's own message and SQLSTATE; everything is copied out of
// `result`, which the caller frees.
StatementError statement_error(PGconn* conn, const PGresult* result) {
  const std::string why = error_of(conn, result);
  std::string message = one_line(result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr);
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  return StatementError(why, message.empty() ? why : message, 0, state ? state : "");
}

// Statements queued on a connection: sent at once in libpq's pipeline mode, their outcomes read in
// flush(). Synchronous calls are not allowed while the pipeline is open, so every one flushes first.
//
// It also keeps the connection's server-side preparations. A statement text run a second time on
// the connection is prepared on the server under a name, so that the server parses it (and, with the
// workers' generic plans, plans it) once rather than at every run: admitting 256 URLs spent 6.9 ms
// of its 15.7 ms in parse and bind. A text run once leaves nothing on the server. Preparations are
// kept per text, not per Statement object, so statements made anew for each call share one. Only the
// first kMaxPrepared distinct texts a connection runs are counted and prepared, so a caller making
// endless distinct texts cannot fill the server's memory; the texts after them run unnamed.
class Pipeline {
 public:
  explicit Pipeline(PGconn* conn) : conn_(conn) {}

  // What a run of a statement text uses on the server: its prepared name (empty: run it unnamed),
  // and whether this run prepares it first.
  struct Use {
    std::string* name = nullptr;
    bool prepare = false;
    const std::string& sql;
  };

  Use use(const std::string& sql) {
    auto it = prepared_.find(sql);
    if (it == prepared_.end()) {
      if (prepared_.size() >= kMaxPrepared) return {&unnamed_, false, sql};
      it = prepared_.emplace(sql, Preparation{}).first;
    }
    Preparation& p = it->second;
    if (!p.name.empty() || ++p.runs < 2) return {&p.name, false, it->first};
    p.name = "crawl_" + std::to_string(++names_);
    return {&p.name, true, it->first};
  }

  // Sends a run of `use.sql` with `values`, unnamed or as its prepared statement, preparing it first
  // when this run is the one that does.
  void send(const Use& use, const std::vector<const char*>& values) {
    if (!open_) {
      if (PQenterPipelineMode(conn_) != 1) throw StorageError(error_of(conn_, nullptr));
      open_ = true;
    }
    const int count = static_cast<int>(values.size());
    if (use.prepare) {
      if (PQsendPrepare(conn_, use.name->c_str(), use.sql.c_str(), count, nullptr) != 1)
        throw StorageError(error_of(conn_, nullptr));
      ++queued_;
      preparing_.push_back(use.name);
    }
    const int sent =
        use.name->empty()
            ? PQsendQueryParams(conn_, use.sql.c_str(), count, nullptr, values.data(), nullptr, nullptr, 0)
            : PQsendQueryPrepared(conn_, use.name->c_str(), count, values.data(), nullptr, nullptr, 0);
    if (sent != 1) throw StorageError(error_of(conn_, nullptr));
    // The server answers each statement while the client goes on sending; reading the answers
    // every so often keeps both sides' socket buffers from filling up and blocking each other.
    if (++queued_ >= kReadEvery) flush();
  }

  // Runs `use.sql` with `values` at once (the pipeline flushed first); a failed preparation is
  // forgotten, so the next run prepares it again.
  Result exec(const Use& use, const std::vector<const char*>& values) {
    flush();
    const int count = static_cast<int>(values.size());
    if (use.prepare) {
      Result prepared(PQprepare(conn_, use.name->c_str(), use.sql.c_str(), count, nullptr));
      if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
        forget(use.name);
        throw statement_error(conn_, prepared.get());
      }
    }
    const auto unnamed = [&] {
      return Result(PQexecParams(conn_, use.sql.c_str(), count, nullptr, values.data(), nullptr, nullptr, 0));
    };
    if (use.name->empty()) return unnamed();
    Result result(PQexecPrepared(conn_, use.name->c_str(), count, values.data(), nullptr, nullptr, 0));
    if (stale(result.get())) {
      // Prepared before another process changed a table it reads (a newer crawl migrating the
      // schema while this one works): prepared again at its next run; outside a transaction, this
      // run is simply made again, unnamed.
      forget_all();
      if (PQtransactionStatus(conn_) == PQTRANS_IDLE) return unnamed();
    }
    return result;
  }

  void flush() {
    if (!open_) return;
    std::optional<StatementError> first;
    // A preparation that went in a failed batch may not have happened (the server skips what
    // follows an error until the sync): those texts are prepared again, under new names, when next
    // run. One that did happen stays on the server unused; failed batches are rare.
    struct ForgetOnFailure {
      Pipeline& pipeline;
      bool failed = true;
      ~ForgetOnFailure() {
        if (failed)
          for (std::string* name : pipeline.preparing_) forget(name);
        pipeline.preparing_.clear();
      }
    } forget_on_failure{*this};
    if (PQpipelineSync(conn_) != 1) throw StorageError(error_of(conn_, nullptr));
    for (int i = 0; i < queued_; ++i) {
      // Each statement's results end with a null result.
      while (PGresult* raw = PQgetResult(conn_)) {
        Result result(raw);
        if (PQresultStatus(raw) == PGRES_FATAL_ERROR && !first) first = statement_error(conn_, raw);
      }
      if (PQstatus(conn_) == CONNECTION_BAD) break;
    }
    Result sync(PQgetResult(conn_));
    queued_ = 0;
    if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC || PQexitPipelineMode(conn_) != 1) {
      if (first) throw *first;
      throw StorageError(error_of(conn_, sync.get()));
    }
    open_ = false;
    if (first && first->sqlstate == kStalePlan) forget_all();
    if (first) throw *first;
    forget_on_failure.failed = false;
  }

 private:
  struct Preparation {
    int runs = 0;
    std::string name;  // empty until prepared
  };
  static constexpr int kReadEvery = 512;
  // Enough for every text crawl runs more than once (the writer's and the leases' statements, with
  // the completions' variants of 1 to 256 rows), with room to spare.
  static constexpr size_t kMaxPrepared = 1024;

  // PostgreSQL refuses to run a prepared statement whose result columns changed since it was
  // prepared ("cached plan must not change result type"): SELECT * of a table another process
  // altered.
  static constexpr const char* kStalePlan = "0A000";
  static bool stale(const PGresult* result) {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    return state && std::string_view(state) == kStalePlan;
  }
  void forget_all() {
    for (auto& [sql, p] : prepared_) p.name.clear();
  }

  // The map never moves or drops a Preparation, so a name cleared here is what that text's next
  // run sees.
  static void forget(std::string* name) { name->clear(); }

  PGconn* conn_;
  bool open_ = false;
  int queued_ = 0;
  int64_t names_ = 0;
  std::unordered_map<std::string, Preparation> prepared_;
  std::string unnamed_;  // the name of every text past kMaxPrepared: none
  std::vector<std::string*> preparing_;
};

class PostgresStatement final : public Statement::Impl {
 public:
  PostgresStatement(PGconn* conn, Pipeline& pipeline, std::string_view sql)
      : conn_(conn), pipeline_(pipeline) {
    Translated t = translate_parameters(sql);
    sql_ = std::move(t.sql);
    values_.resize(static_cast<size_t>(t.parameters));
  }

  void bind_integer(int index, int64_t value) override { slot(index) = std::to_string(value); }
  void bind_real(int index, double value) override {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    slot(index) = text;
  }
  void bind_text(int index, std::string_view value) override { slot(index) = std::string(value); }
  void bind_null(int index) override { slot(index).reset(); }
  int parameter_count() const override { return static_cast<int>(values_.size()); }

  void queue() override {
    reset();
    pipeline_.send(pipeline_.use(sql_), pointers());
  }

  bool step() override {
    if (!result_) {
      result_ = pipeline_.exec(pipeline_.use(sql_), pointers());
      const ExecStatusType status = result_ ? PQresultStatus(result_.get()) : PGRES_FATAL_ERROR;
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        StatementError error = statement_error(conn_, result_.get());
        result_.reset();
        throw error;
      }
      rows_ = status == PGRES_TUPLES_OK ? PQntuples(result_.get()) : 0;
      row_ = -1;
    }
    return ++row_ < rows_;
  }
  void reset() override {
    result_.reset();
    rows_ = 0;
    row_ = -1;
  }
  bool read_only() const override { return true; }

  int column_count() const override { return result_ ? PQnfields(result_.get()) : 0; }
  std::string column_name(int column) const override {
    const char* name = result_ ? PQfname(result_.get(), column) : nullptr;
    return name ? name : "";
  }
  ColumnType column_type(int column) const override {
    if (!on_row() || PQgetisnull(result_.get(), row_, column)) return ColumnType::null;
    switch (PQftype(result_.get(), column)) {
      case kBool:
      case kInt2:
      case kInt4:
      case kInt8:
      case kOid:
        return ColumnType::integer;
      case kFloat4:
      case kFloat8:
        return ColumnType::real;
      case kNumeric: {
        // sum() of integers is numeric: whole numbers read as integers, as SQLite gives them.
        const std::string_view v = PQgetvalue(result_.get(), row_, column);
        return v.find_first_of(".eEN") == std::string_view::npos ? ColumnType::integer : ColumnType::real;
      }
      case kBytea:
        return ColumnType::blob;
      default:
        return ColumnType::text;
    }
  }
  int64_t integer(int column) const override {
    if (!on_row() || PQgetisnull(result_.get(), row_, column)) return 0;
    const char* v = PQgetvalue(result_.get(), row_, column);
    if (PQftype(result_.get(), column) == kBool) return v[0] == 't' ? 1 : 0;
    if (PQftype(result_.get(), column) == kFloat8 || PQftype(result_.get(), column) == kFloat4 ||
        PQftype(result_.get(), column) == kNumeric)
      return static_cast<int64_t>(std::strtod(v, nullptr));
    return std::strtoll(v, nullptr, 10);
  }
  double real(int column) const override {
    if (!on_row() || PQgetisnull(result_.get(), row_, column)) return 0;
    const char* v = PQgetvalue(result_.get(), row_, column);
    if (PQftype(result_.get(), column) == kBool) return v[0] == 't' ? 1 : 0;
    return std::strtod(v, nullptr);
  }
  std::string text(int column) const override {
    if (!on_row() || PQgetisnull(result_.get(), row_, column)) return {};
    return std::string(PQgetvalue(result_.get(), row_, column),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, column)));
  }
  int64_t bytes(int column) const override { return on_row() ? PQgetlength(result_.get(), row_, column) : 0; }

 private:
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
  }
  std::optional<std::string>& slot(int index) {
    if (index < 1 || static_cast<size_t>(index) > values_.size())
      throw StorageError("cannot bind parameter " + std::to_string(index) + ": the statement has " +
                         std::to_string(values_.size()));
    return values_[static_cast<size_t>(index - 1)];
  }
  bool on_row() const { return result_ && row_ >= 0 && row_ < rows_; }

  PGconn* conn_;
  Pipeline& pipeline_;
  std::string sql_;
  std::vector<std::optional<std::string>> values_;
  Result result_;
  int rows_ = 0;
  int row_ = -1;
};

class PostgresConnection final : public Connection {
 public:
  explicit PostgresConnection(PGconn* conn) : conn_(conn), pipeline_(conn) {}
  ~PostgresConnection() override { PQfinish(conn_); }
  PostgresConnection(const PostgresConnection&) = delete;
  PostgresConnection& operator=(const PostgresConnection&) = delete;

  Engine engine() const override { return Engine::postgres; }

  void exec(std::string_view sql) override {
    pipeline_.flush();
    Result result(PQexec(conn_, std::string(sql).c_str()));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      throw StorageError(error_of(conn_, result.get()));
  }

  Statement prepare(std::string_view sql) override {
    return Statement(std::make_unique<PostgresStatement>(conn_, pipeline_, sql));
  }

  void flush() override { pipeline_.flush(); }

  bool in_transaction() const override { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

  std::string last_error() const override { return one_line(PQerrorMessage(conn_)); }

 private:
  PGconn* conn_;
  Pipeline pipeline_;
};

// NOTICEs (e.g. "relation already exists, skipping") are for people typing SQL, not for a crawl's
// stderr.
void ignore_notice(void*, const char*) {}

}  // namespace

std::unique_ptr<Connection> open_postgres(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (!conn) throw StorageError("out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string why = one_line(PQerrorMessage(conn));
    PQfinish(conn);
    throw StorageError(why);
  }
  PQsetNoticeProcessor(conn, ignore_notice, nullptr);
  return std::make_unique<PostgresConnection>(conn);
}

bool is_postgres_uri(std::string_view db) {
  return db.starts_with("postgresql://") || db.starts_with("postgres://");
}

std::string redact_password(std::string_view db) {
  std::string out(db);
  if (is_postgres_uri(db)) {
    const size_t authority = out.find("://") + 3;
    const size_t at = out.find('@', authority);
    const size_t slash = out.find('/', authority);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  const size_t query_password = out.find("password=");
  if (query_password != std::string::npos) {
    const size_t start = query_password + 9;
    const size_t end = out.find_first_of("& ", start);
    out.replace(start, (end == std::string::npos ? out.size() : end) - start, "***");
  }
  return out;
}

}  // namespace crawl::storage
