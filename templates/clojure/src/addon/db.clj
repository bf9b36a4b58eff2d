(ns addon.db
  "The database: Postgres when DATABASE_URL is set (Heroku Postgres sets it), otherwise an
  embedded SQLite file under data/, so a laptop needs no server. Both sit behind a HikariCP
  connection pool and are used through clojure.java.jdbc; the SQL in the other namespaces
  is written to run on both (TEXT and BIGINT columns, INSERT … ON CONFLICT … RETURNING)."
  (:require [clojure.java.jdbc :as jdbc]
            [clojure.string :as str])
  (:import (com.zaxxer.hikari HikariConfig HikariDataSource)
           (java.io File)
           (java.net URI URLDecoder)
           (java.nio ByteBuffer)
           (java.nio.charset StandardCharsets)
           (java.security MessageDigest)))

(def default-sqlite-path
  "The embedded database, relative to the project directory (bin/* run from there)."
  "data/addon.sqlite3")

(defn- url-decode [s]
  (when s (URLDecoder/decode ^String s StandardCharsets/UTF_8)))

(defn- postgres-target
  "JDBC settings for a postgres:// URL (the form Heroku and libpq use). `schema`, when
  given, becomes the connections' search_path (the tests use a fresh one per run)."
  [database-url schema]
  (let [uri (URI. database-url)
        [user password] (some-> (.getRawUserInfo uri) (str/split #":" 2))
        port (when (pos? (.getPort uri)) (str ":" (.getPort uri)))
        query (->> [(.getRawQuery uri) (when schema (str "currentSchema=" schema))]
                   (remove nil?)
                   (str/join "&"))]
    {:dialect :postgres
     :jdbc-url (str "jdbc:postgresql://" (or (.getHost uri) "localhost") port (.getRawPath uri)
                    (when (seq query) (str "?" query)))
     :user (url-decode user)
     :password (url-decode password)}))

(defn- sqlite-target [path]
  (some-> (.getParentFile (File. ^String path)) .mkdirs)
  {:dialect :sqlite
   ;; WAL lets readers work while one connection writes; busy_timeout makes a writer wait
   ;; for the lock instead of failing; IMMEDIATE transactions take the write lock when they
   ;; begin, so two transactions can never deadlock upgrading a read lock.
   :jdbc-url (str "jdbc:sqlite:" path "?journal_mode=WAL&busy_timeout=10000"
                  "&transaction_mode=IMMEDIATE&foreign_keys=true")})

(defn connect
  "A pooled connection spec for clojure.java.jdbc: Postgres from `database-url`, or the
  SQLite file at `sqlite-path` (default data/addon.sqlite3). Close it with `close!`."
  [{:keys [database-url sqlite-path schema pool-size] :or {pool-size 10}}]
  (let [{:keys [dialect jdbc-url user password]}
        (if database-url
          (postgres-target database-url schema)
          (sqlite-target (or sqlite-path default-sqlite-path)))
        config (doto (HikariConfig.)
                 (.setPoolName (str "addon-" (name dialect)))
                 (.setJdbcUrl jdbc-url)
                 (.setMaximumPoolSize (if (= :sqlite dialect) (min pool-size 4) pool-size))
                 ;; Nothing hangs: a request waits at most this long for a connection.
                 (.setConnectionTimeout 10000))]
    (when user (.setUsername config user))
    (when password (.setPassword config password))
    {:datasource (HikariDataSource. config)
     :dialect dialect}))

(defn close! [{:keys [^HikariDataSource datasource]}]
  (.close datasource))

(defn postgres? [db]
  (= :postgres (:dialect db)))

(defn- column-key
  "resource_id -> :resource-id"
  [column]
  (keyword (str/replace (str/lower-case column) "_" "-")))

(defn query
  "Rows of `sql-params` (a [sql & params] vector) as maps with :kebab-case keys."
  [db sql-params]
  (jdbc/query db sql-params {:identifiers column-key}))

(defn query-one [db sql-params]
  (first (query db sql-params)))

(defn execute!
  "Runs a statement; returns the number of rows it changed."
  [db sql-params]
  (first (jdbc/execute! db sql-params)))

(defmacro transaction
  "Runs `body` in one transaction on one connection, bound to `tx`."
  [[tx db] & body]
  `(jdbc/with-db-transaction [~tx ~db] ~@body))

(defn now-ms []
  (System/currentTimeMillis))

(defn- lock-id
  "A 64-bit Postgres advisory-lock id for `name`."
  ^long [^String name]
  (.getLong (ByteBuffer/wrap (.digest (MessageDigest/getInstance "SHA-256")
                                      (.getBytes name StandardCharsets/UTF_8)))))

(defn with-lock
  "Calls (f) while holding the lock `name` across every process on this database, and
  returns its value; returns ::busy without calling f when another process holds it.
  Postgres: a session advisory lock, released when f returns or the process dies (its
  connection closes). SQLite is one host's file: callers already serialize in-process."
  [db name f]
  (if (postgres? db)
    (jdbc/with-db-connection [conn db]
      (let [id (lock-id name)]
        (if (:locked (query-one conn ["SELECT pg_try_advisory_lock(?) AS locked" id]))
          (try (f)
               (finally (query conn ["SELECT pg_advisory_unlock(?) AS unlocked" id])))
          ::busy)))
    (f)))

(defn lock-transaction!
  "Inside a transaction: waits for the transaction-scoped lock `name` (Postgres), so
  concurrent callers run one at a time. SQLite transactions here are IMMEDIATE, which
  already serializes them."
  [tx name]
  (when (postgres? tx)
    (query tx ["SELECT pg_advisory_xact_lock(?) AS locked" (lock-id name)]))
  nil)
