//! Subscriptions that ride the shared client's connection over RESP3: messages between the
//! replies to other requests, several subscribers on one server subscription, a refusal
//! kept out, a slow reader that loses messages but not the connection, resubscription
//! after a lost connection and after a sentinel failover, and the blocking twin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod support;

use std::sync::Arc;
use std::time::Duration;

use slotline_conn::{cmd, Client, Commands, ErrorKind, MessageKind, Query, RefusedKind};
use slotline_testbed::{SentinelTopology, Standalone};
use support::{bounded, wait_for, with_option};

fn resp3_url() -> String {
    with_option(&support::standalone().url(), "protocol=3")
}

/// How many subscribers the server counts for `channel` (`PUBSUB NUMSUB`).
async fn numsub(client: &impl Query, channel: &str) -> i64 {
    let (_, n): (String, i64) = client
        .query(&cmd("PUBSUB").arg("NUMSUB").arg(channel))
        .await
        .unwrap();
    n
}

/// Polls until the server counts `want` subscribers for `channel`.
async fn wait_numsub(client: &Client, channel: &str, want: i64) {
    let deadline = std::time::Instant::now() + support::DEADLINE;
    while numsub(client, channel).await != want {
        assert!(
            std::time::Instant::now() < deadline,
            "{channel}: never {want} subscribers"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

on_both_runtimes! {
    async fn messages_ride_the_shared_connection_between_replies() {
        let client = Client::connect(resp3_url().as_str()).await.unwrap();
        let mut news = client.subscribe("ss:news").await.unwrap();
        // One connection: the client's own is the subscriber.
        let info: String = client.query(&cmd("CLIENT").arg("INFO")).await.unwrap();
        assert!(info.contains(" sub=1 "), "{info}");
        assert_eq!(numsub(&client, "ss:news").await, 1);

        // Callers' replies and messages interleave on the socket; each reaches its own.
        let callers: Vec<_> = (0..10)
            .map(|t| {
                let c = client.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        let key = format!("ss:k:{t}");
                        let _: () = c.set(&key, i).await.unwrap();
                        let v: i64 = c.get(&key).await.unwrap();
                        assert_eq!(v, i, "a reply went astray");
                    }
                })
            })
            .collect();
        for i in 0..200 {
            let got: i64 = client.publish("ss:news", i).await.unwrap();
            assert_eq!(got, 1);
        }
        for c in callers {
            c.await.unwrap();
        }
        for i in 0..200 {
            let msg = bounded("a message", news.next_message()).await.unwrap().unwrap();
            assert_eq!(msg.kind, MessageKind::Message);
            assert_eq!(msg.payload::<i64>().unwrap(), i, "in order, none lost");
        }
        assert_eq!(news.dropped(), 0);
        assert_eq!(news.subscriptions().channels.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_share_one_server_subscription() {
    let client = Client::connect(resp3_url().as_str()).await.unwrap();
    let mut a = client.subscribe("ss:shared").await.unwrap();
    let mut b = client.subscriber().unwrap();
    b.subscribe(["ss:shared", "ss:only-b"]).await.unwrap();
    assert_eq!(numsub(&client, "ss:shared").await, 1, "asked once");
    let _: i64 = client.publish("ss:shared", "1").await.unwrap();
    for sub in [&mut a, &mut b] {
        let msg = bounded("a message", sub.next_message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(msg.payload::<String>().unwrap(), "1");
    }
    // One leaves: the other still hears.
    drop(a);
    let _: i64 = client.publish("ss:shared", "2").await.unwrap();
    let msg = bounded("a message", b.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(msg.payload::<String>().unwrap(), "2");
    assert_eq!(numsub(&client, "ss:shared").await, 1);
    // The last one unsubscribes: the server is told.
    b.unsubscribe("ss:shared").await.unwrap();
    assert_eq!(numsub(&client, "ss:shared").await, 0);
    assert_eq!(numsub(&client, "ss:only-b").await, 1);
    // ... or is dropped.
    drop(b);
    wait_numsub(&client, "ss:only-b", 0).await;
    // A pattern and a shard channel, side by side.
    let mut p = client.psubscribe("ss:p:*").await.unwrap();
    p.ssubscribe("ss:s").await.unwrap();
    let _: i64 = client.publish("ss:p:1", "x").await.unwrap();
    let _: i64 = client
        .query(&cmd("SPUBLISH").arg("ss:s").arg("y"))
        .await
        .unwrap();
    let m1 = bounded("a message", p.next_message())
        .await
        .unwrap()
        .unwrap();
    let m2 = bounded("a message", p.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m1.kind, m1.pattern_str()),
        (MessageKind::PMessage, Some("ss:p:*"))
    );
    assert_eq!(
        (m2.kind, m2.channel_str()),
        (MessageKind::SMessage, Some("ss:s"))
    );
    // Requests still answer in step after all that.
    let pong: String = client.query(&cmd("PING")).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_told_and_the_subscriptions_come_back() {
    let client = Client::connect(resp3_url().as_str()).await.unwrap();
    let mut sub = client.subscribe("ss:back").await.unwrap();
    sub.psubscribe("ss:back:*").await.unwrap();
    let id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    let killer = Client::connect(resp3_url().as_str()).await.unwrap();
    let killed: i64 = killer
        .query(&cmd("CLIENT").arg("KILL").arg("ID").arg(id))
        .await
        .unwrap();
    assert_eq!(killed, 1);
    let told = bounded("the news of the loss", sub.next_message())
        .await
        .unwrap();
    assert!(told.is_err(), "{told:?}");
    // The client subscribes again on its next connection, by itself.
    wait_numsub(&killer, "ss:back", 1).await;
    let _: i64 = killer.publish("ss:back", "again").await.unwrap();
    let _: i64 = killer.publish("ss:back:x", "pattern").await.unwrap();
    let m = bounded("a message", sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload::<String>().unwrap(), "again");
    let m = bounded("a message", sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.payload::<String>().unwrap(), "pattern");
    let new_id: i64 = client.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    assert_ne!(new_id, id, "a new connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_why() {
    // Over RESP2 a subscribed connection carries nothing else.
    let resp2_url = support::standalone()
        .url()
        .replace("protocol=3", "protocol=2");
    let resp2 = Client::connect(resp2_url.as_str()).await.unwrap();
    let e = resp2.subscriber().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused(RefusedKind::OwnConnection));
    assert!(e.to_string().contains("protocol=3"), "{e}");
    // Over RESP3 a raw SUBSCRIBE, MONITOR and CLIENT REPLY are still refused: their
    // answers could not be matched (subscriptions go through a Subscriber).
    let client = Client::connect(resp3_url().as_str()).await.unwrap();
    for c in [
        cmd("SUBSCRIBE").arg("x"),
        cmd("MONITOR"),
        cmd("CLIENT").arg("REPLY").arg("OFF"),
    ] {
        let e = client.query::<()>(&c).await.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::Refused(RefusedKind::OwnConnection),
            "{e}"
        );
    }
    // A subscription the server refuses (ACL channel rules) is not kept.
    let server = Standalone::builder()
        .user("limited", "pw", "resetchannels &ss:ok:* ~* +@all")
        .local()
        .start()
        .unwrap();
    let url = support::with_db(&server.url(), 0).replace("://", "://limited:pw@");
    let limited = Client::connect(with_option(&url, "protocol=3").as_str())
        .await
        .unwrap();
    let sub = limited.subscriber().unwrap();
    let e = sub.subscribe("ss:no").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    assert!(sub.subscriptions().is_empty());
    sub.subscribe("ss:ok:1").await.unwrap();
    assert_eq!(sub.subscriptions().channels.len(), 1);
    let pong: String = limited.query(&cmd("PING")).await.unwrap();
    assert_eq!(pong, "PONG");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_loses_messages_not_the_connection() {
    let client = Client::connect(resp3_url().as_str()).await.unwrap();
    let mut slow = client.subscriber_with_capacity(2).unwrap();
    slow.subscribe("ss:slow").await.unwrap();
    let mut fast = client.subscribe("ss:slow").await.unwrap();
    for i in 0..50 {
        let _: i64 = client.publish("ss:slow", i).await.unwrap();
    }
    // The fast one reads everything; the slow one kept the first two.
    for i in 0..50 {
        let m = bounded("a message", fast.next_message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.payload::<i64>().unwrap(), i);
    }
    wait_for("the drops to be counted", || slow.dropped() == 48).await;
    for i in 0..2 {
        let m = bounded("a message", slow.next_message())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.payload::<i64>().unwrap(), i);
    }
    let v: Option<String> = client.get("ss:nothing").await.unwrap();
    assert_eq!(v, None);
}

#[test]
fn the_blocking_twin() {
    support::on_plain_thread(|| {
        let client = slotline_conn::blocking::Client::connect(resp3_url().as_str()).unwrap();
        let mut sub = client.subscribe("ss:blocking").unwrap();
        let _: i64 =
            slotline_conn::blocking::Commands::publish(&client, "ss:blocking", "b").unwrap();
        let m = sub
            .next_message_timeout(support::DEADLINE)
            .unwrap()
            .expect("a message");
        assert_eq!(m.payload::<String>().unwrap(), "b");
        let count = |c: &slotline_conn::blocking::Client| -> i64 {
            let (_, n): (String, i64) = slotline_conn::blocking::Query::query(
                c,
                &cmd("PUBSUB").arg("NUMSUB").arg("ss:blocking"),
            )
            .unwrap();
            n
        };
        assert_eq!(count(&client), 1);
        // Dropped: the server is told from the client's runtime.
        drop(sub);
        support::wait_until("the unsubscribe", || count(&client) == 0);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sentinel_failover_takes_the_subscriptions_along() {
    let t = Arc::new(SentinelTopology::builder().local().start().unwrap());
    let mut config = slotline_sentinel::SentinelConfig::default();
    config.node.protocol = slotline_conn::Protocol::Resp3;
    let sentinel = slotline_sentinel::Sentinel::new(t.sentinel_addrs(), config).unwrap();
    let client = sentinel.master_for(t.service()).await.unwrap();
    let mut sub = client.subscriber().unwrap();
    sub.subscribe("ss:failover").await.unwrap();
    let old = client.addr();
    let t2 = t.clone();
    support::off_runtime(move || support::wait_failover_followers(&t2, 1)).await;
    let t2 = t.clone();
    let new = support::off_runtime(move || t2.failover().unwrap()).await;
    let new = support::addr(new);
    assert_ne!(new, old);
    wait_for("the client to follow the failover", || client.addr() == new).await;
    // Published on the new master, through the client: the subscription moved with it.
    let got = bounded("a message on the new master", async {
        loop {
            let _: i64 = client.publish("ss:failover", "moved").await.unwrap();
            match tokio::time::timeout(Duration::from_millis(100), sub.next_message()).await {
                Ok(Some(Ok(m))) => return m,
                // The news of the old connection's end.
                Ok(Some(Err(_))) | Err(_) => {}
                Ok(None) => panic!("the subscriber ended"),
            }
        }
    })
    .await;
    assert_eq!(got.payload::<String>().unwrap(), "moved");
    let master = t.master_addr().unwrap();
    let t2 = t.clone();
    let listed = support::off_runtime(move || {
        let mut con = t2.conn(master).unwrap();
        format!(
            "{:?}",
            con.cmd(&["PUBSUB", "NUMSUB", "ss:failover"]).unwrap()
        )
    })
    .await;
    assert!(listed.contains("Integer(1)"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_subscribes_on_the_nodes_shared_connections() {
    let c = support::cluster();
    let url = format!(
        "redis+cluster://{}{}?protocol=3",
        support::userinfo(c.auth()),
        support::join(&c.seed_addrs())
    );
    let cl = slotline_cluster::ClusterClient::open(&url).await.unwrap();
    let mut sub = cl.pubsub().await.unwrap();
    let channel = "ss:cluster:{tag}";
    sub.ssubscribe(channel).await.unwrap();
    let master = cl
        .master_for_slot(slotline_cluster::slot(channel.as_bytes()))
        .unwrap();
    let node = cl.node(master.clone()).await.unwrap();
    // The one connection subscribed on that node is the shared client's own.
    let id: i64 = node.query(&cmd("CLIENT").arg("ID")).await.unwrap();
    let list: String = node.query(&cmd("CLIENT").arg("LIST")).await.unwrap();
    let subscribed: Vec<&str> = list.lines().filter(|l| l.contains(" ssub=1 ")).collect();
    assert_eq!(subscribed.len(), 1, "{list}");
    assert!(
        subscribed[0].starts_with(&format!("id={id} ")),
        "{id}: {list}"
    );
    let _: i64 = cl
        .query(&cmd("SPUBLISH").arg(channel).arg("hi"))
        .await
        .unwrap();
    let m = bounded("a message", sub.next_message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.kind, m.payload::<String>().unwrap().as_str()),
        (MessageKind::SMessage, "hi")
    );
}
