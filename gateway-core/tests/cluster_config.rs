//! Team mode on a real PostgreSQL (testkit's throwaway cluster): the schema
//! runner, the LISTEN task, config versions shared by three replicas.

use std::sync::Arc;
use std::time::Duration;

use gateway_core::cluster::pg::{self, Pg, PgEvent};
use testkit::PostgresServer;

async fn next_notify(sub: &mut pg::Subscription) -> (String, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Some(PgEvent::Notify { channel, payload })) => return (channel, payload),
            Ok(Some(PgEvent::Reconnected)) => continue,
            Ok(None) => panic!("listener closed"),
            Err(_) => panic!("no notification within 10 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_with_replicas_starting_together() {
    let server = PostgresServer::start();
    let url = server.url();
    let mut runs = Vec::new();
    for _ in 0..3 {
        let url = url.clone();
        runs.push(tokio::spawn(async move {
            Pg::from_url(&url).unwrap().migrate().await
        }));
    }
    for r in runs {
        assert_eq!(r.await.unwrap().unwrap(), pg::schema_version());
    }
    let p = Pg::from_url(&url).unwrap();
    let c = p.raw_client().await.unwrap();
    let steps: i64 = c
        .query_one("SELECT count(*) FROM aigw_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(steps, pg::MIGRATIONS.len() as i64);
    // a schema newer than this binary knows is refused, with the versions
    c.execute(
        "INSERT INTO aigw_schema (version, name) VALUES (999, 'from the future')",
        &[],
    )
    .await
    .unwrap();
    let e = Pg::from_url(&url).unwrap().migrate().await.unwrap_err();
    assert!(
        matches!(e, pg::PgError::SchemaTooNew { found: 999, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("upgrade aigw"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_delivers_notifications_and_reconnects_after_a_restart() {
    let mut server = PostgresServer::start();
    let p = Arc::new(Pg::from_url(&server.url()).unwrap());
    let tasks = tokio_util::task::TaskTracker::new();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut sub = p.subscribe(&["aigw_test"]);
    let mut other = p.subscribe(&["aigw_other"]);
    p.spawn_listener(&tasks, stop.clone());
    // the first event says the connection is up (LISTEN issued)
    assert_eq!(sub.next().await, Some(PgEvent::Reconnected));
    p.notify("aigw_test", "one").await.unwrap();
    assert_eq!(
        next_notify(&mut sub).await,
        ("aigw_test".into(), "one".into())
    );
    p.notify("aigw_other", "x").await.unwrap();
    assert_eq!(next_notify(&mut other).await.1, "x");

    server.restart();
    // the listener comes back and says so; notifications flow again
    match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
        Ok(Some(PgEvent::Reconnected)) => {}
        Ok(e) => panic!("expected a reconnect, got {e:?}"),
        Err(_) => panic!("the listener did not reconnect:\n{}", server.log()),
    }
    // the pool's old connections died with the server: a retry gets a new one
    let mut sent = false;
    for _ in 0..20 {
        if p.notify("aigw_test", "two").await.is_ok() {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(sent);
    assert_eq!(next_notify(&mut sub).await.1, "two");
    stop.cancel();
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Pg::from_url(&format!("postgres://aigw@127.0.0.1:{port}/x")).unwrap();
    let e = p.migrate().await.unwrap_err().to_string();
    assert!(e.contains("PostgreSQL"), "{e}");
    assert!(
        e.to_lowercase().contains("connect") || e.contains("refused"),
        "{e}"
    );
}
