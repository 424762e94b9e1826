// The PostgreSQL server tests start for themselves (tests/support/postgres.hpp).
#include "tests/support/postgres.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/support/process.hpp"

namespace crawl::test {
namespace {

using Connection = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

Connection connect(const std::string& uri) {
  Connection conn(PQconnectdb(uri.c_str()), &PQfinish);
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_OK) << uri << ": " << PQerrorMessage(conn.get());
  return conn;
}

// The first column of the first row `sql` returns on `uri`; nullopt (and the test fails) on error.
std::optional<std::string> query_value(const std::string& uri, const std::string& sql) {
  Connection conn = connect(uri);
  if (PQstatus(conn.get()) != CONNECTION_OK) return std::nullopt;
  Result result(PQexec(conn.get(), sql.c_str()), &PQclear);
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK || PQntuples(result.get()) < 1) {
    ADD_FAILURE() << sql << ": " << PQerrorMessage(conn.get());
    return std::nullopt;
  }
  return std::string(PQgetvalue(result.get(), 0, 0));
}

void execute(const std::string& uri, const std::string& sql) {
  Connection conn = connect(uri);
  Result result(PQexec(conn.get(), sql.c_str()), &PQclear);
  EXPECT_EQ(PQresultStatus(result.get()), PGRES_COMMAND_OK) << sql << ": " << PQerrorMessage(conn.get());
}

TEST(PostgresServer, StartsAndAnswersOnItsUri) {
  PostgresServer server;
  EXPECT_EQ(server.uri(), "postgresql://crawl@127.0.0.1:" + std::to_string(server.port()) + "/crawl");
  EXPECT_NE(query_value(server.uri(), "SELECT version()").value_or("").find("PostgreSQL 15"),
            std::string::npos);
  EXPECT_EQ(query_value(server.uri(), "SELECT current_database()"), "crawl");
  EXPECT_EQ(query_value(server.uri(), "SELECT current_user"), "crawl");
}

TEST(PostgresServer, RunsUnprivilegedWithSettingsForTests) {
  PostgresServer& server = shared_postgres();
  const std::string uri = server.uri();
  EXPECT_EQ(query_value(uri, "SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(query_value(uri, "SHOW unix_socket_directories"), server.dir());
  EXPECT_EQ(query_value(uri, "SHOW fsync"), "off");
  EXPECT_EQ(query_value(uri, "SHOW synchronous_commit"), "off");
  EXPECT_EQ(query_value(uri, "SHOW full_page_writes"), "off");
  EXPECT_EQ(query_value(uri, "SHOW max_connections"), "100");
  EXPECT_EQ(query_value(uri, "SHOW shared_buffers"), "32MB");
  EXPECT_EQ(query_value(uri, "SHOW server_encoding"), "UTF8");

  uid_t expected = ::geteuid();
  if (expected == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    ASSERT_NE(nobody, nullptr);
    expected = nobody->pw_uid;
  }
  struct stat st {};
  ASSERT_EQ(::stat(("/proc/" + std::to_string(server.pid())).c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, expected);
  EXPECT_NE(server.log().find("ready to accept connections"), std::string::npos) << server.log();
}

TEST(PostgresServer, CreatedDatabasesAreDistinct) {
  PostgresServer& server = shared_postgres();
  const std::string first = server.create_database("distinct_first");
  const std::string second = server.create_database("distinct_second");
  EXPECT_NE(first, second);
  EXPECT_EQ(query_value(first, "SELECT current_database()"), "distinct_first");
  EXPECT_EQ(query_value(second, "SELECT current_database()"), "distinct_second");

  execute(first, "CREATE TABLE only_here (x int)");
  EXPECT_EQ(query_value(first, "SELECT to_regclass('only_here') IS NOT NULL"), "t");
  EXPECT_EQ(query_value(second, "SELECT to_regclass('only_here') IS NOT NULL"), "f");

  EXPECT_THROW(server.create_database("distinct_first"), std::runtime_error);
  EXPECT_THROW(server.create_database("Not-An-Identifier"), std::invalid_argument);
}

TEST(PostgresServer, SharedServerIsOneServer) {
  EXPECT_EQ(&shared_postgres(), &shared_postgres());
  EXPECT_EQ(query_value(shared_postgres().uri(), "SELECT 1"), "1");
}

TEST(PostgresServer, StopsAndRemovesItsDirectoryOnDestruction) {
  std::string uri, dir;
  pid_t pid = -1;
  {
    PostgresServer server;
    uri = server.uri();
    dir = server.dir();
    pid = server.pid();
    ASSERT_EQ(PQping(uri.c_str()), PQPING_OK);
    ASSERT_TRUE(std::filesystem::exists(dir + "/data/PG_VERSION"));
  }
  EXPECT_TRUE(has_ended(pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_EQ(PQping(uri.c_str()), PQPING_NO_RESPONSE);
  Connection conn(PQconnectdb(uri.c_str()), &PQfinish);
  EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
}

TEST(PostgresServer, MissingBinariesFailLoudlyPointingAtSetup) {
  const char* old = std::getenv("CRAWL_PG_BIN");
  const std::optional<std::string> saved = old ? std::optional<std::string>(old) : std::nullopt;
  ::setenv("CRAWL_PG_BIN", "/nonexistent/postgresql/bin", 1);
  std::string message;
  try {
    PostgresServer server;
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  if (saved)
    ::setenv("CRAWL_PG_BIN", saved->c_str(), 1);
  else
    ::unsetenv("CRAWL_PG_BIN");
  EXPECT_NE(message.find("scripts/setup"), std::string::npos) << message;
  EXPECT_NE(message.find("/nonexistent/postgresql/bin"), std::string::npos) << message;
}

}  // namespace
}  // namespace crawl::test
