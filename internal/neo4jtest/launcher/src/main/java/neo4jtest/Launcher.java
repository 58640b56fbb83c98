package neo4jtest;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * Runs Neo4j Community embedded for the tests of internal/neo4jtest.
 *
 * <p>Usage: {@code java -cp launcher.jar:lib/* neo4jtest.Launcher PORT PASSWORD DIR}
 *
 * <p>Bolt listens on 127.0.0.1:PORT without TLS, the user neo4j has PASSWORD,
 * and everything Neo4j writes lives under DIR, so a second run on the same DIR
 * finds the data of the first. The line {@code NEO4J READY bolt://127.0.0.1:PORT}
 * on stdout says Bolt accepts clients. SIGTERM shuts down cleanly; so does the
 * end of stdin, which ties the server's life to its parent's. The system
 * property {@code neo4jtest.pagecache} sets the page cache in bytes (96 MB
 * when absent).
 */
public final class Launcher {
    private static final String READY = "NEO4J READY";
    private static final String SAME_PASSWORD = "Old password and new password cannot be the same";

    private Launcher() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: neo4jtest.Launcher PORT PASSWORD DIR");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        String password = args[1];
        Path home = Path.of(args[2]).toAbsolutePath();

        AtomicReference<DatabaseManagementService> running = new AtomicReference<>();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            DatabaseManagementService dbms = running.getAndSet(null);
            if (dbms != null) {
                dbms.shutdown();
                System.out.println("NEO4J STOPPED");
                System.out.flush();
            }
        }, "neo4jtest-shutdown"));

        DatabaseManagementService dbms;
        try {
            dbms = start(home, port);
            running.set(dbms);
            setPassword(dbms, password);
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
                throw new IllegalStateException("database " + db.databaseName() + " did not become available");
            }
        } catch (Throwable e) {
            System.out.println("NEO4J FAILED " + e);
            e.printStackTrace();
            System.out.flush();
            System.exit(1);
            return;
        }
        System.out.println(READY + " bolt://127.0.0.1:" + port);
        System.out.flush();

        awaitEndOf(System.in);
        System.exit(0); // runs the shutdown hook
    }

    private static DatabaseManagementService start(Path home, int port) {
        return new DatabaseManagementServiceBuilder(home)
                .setUserLogProvider(new Log4jLogProvider(System.out))
                .setConfig(Map.of(
                        BoltConnector.enabled, true,
                        BoltConnector.listen_address, new SocketAddress("127.0.0.1", port),
                        BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port),
                        BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED,
                        HttpConnector.enabled, false,
                        HttpsConnector.enabled, false,
                        GraphDatabaseSettings.auth_enabled, true,
                        GraphDatabaseSettings.udc_enabled, false))
                .setConfig(Map.of(
                        // Small enough for a shared 2-core machine, big enough for test
                        // data; a benchmark on a large graph raises it with
                        // -Dneo4jtest.pagecache=BYTES.
                        GraphDatabaseSettings.pagecache_memory, Long.getLong("neo4jtest.pagecache", 96L * 1024 * 1024),
                        GraphDatabaseSettings.pagecache_warmup_enabled, false,
                        // Transaction logs: no 256 MB preallocation per database, and
                        // only what recovery needs.
                        GraphDatabaseSettings.preallocate_logical_logs, false,
                        GraphDatabaseSettings.logical_log_rotation_threshold, 16L * 1024 * 1024,
                        GraphDatabaseSettings.keep_logical_logs, "1 files",
                        GraphDatabaseSettings.shutdown_transaction_end_timeout, Duration.ofSeconds(2),
                        // Bolt's event loops otherwise wait 5 s each for quiet before
                        // they stop, which makes every Stop and Restart 10 s slower.
                        GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0))
                .build();
    }

    /**
     * Sets the password of neo4j and clears its "change required" flag. On a
     * restart the password is usually set already, which Neo4j refuses to set
     * again; that is fine.
     */
    private static void setPassword(DatabaseManagementService dbms, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
        } catch (RuntimeException e) {
            if (!causes(e, SAME_PASSWORD)) {
                throw e;
            }
        }
    }

    private static boolean causes(Throwable e, String message) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c.getMessage() != null && c.getMessage().contains(message)) {
                return true;
            }
        }
        return false;
    }

    private static void awaitEndOf(InputStream in) {
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) != -1) {
                // Input means nothing; only its end does.
            }
        } catch (IOException e) {
            // A broken stdin is an ended one.
        }
    }
}
