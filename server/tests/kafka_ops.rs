//! What an operator of Apache Kafka sees and does, with Kafka's own tools:
//! the relay's lag in `kafka-consumer-groups --describe` and in its metrics;
//! records deleted under the relay (`kafka-delete-records`, a short
//! `retention.ms`): a cursor that needs them gets a snapshot, never a
//! partial replay, and a relay whose checkpoint's records are gone starts
//! from the checkpoint; a topic deleted under the relay is an alarm.

mod common;

use std::time::Duration;

use common::kafka::ApacheKafka;
use common::{created, describe, eventually, metric, Relay};
use protocol::{ClientEvent, Role, ServerEvent};

const GROUPS: &str = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand";
const DELETE_RECORDS: &str = "org.apache.kafka.tools.DeleteRecordsCommand";
const CONFIGS: &str = "org.apache.kafka.tools.ConfigCommand";
const TOPICS: &str = "org.apache.kafka.tools.TopicCommand";

/// `kafka-consumer-groups --describe`'s row for one partition:
/// `(current offset, log end offset, lag)`.
async fn described(
    kafka: &ApacheKafka,
    group: &str,
    topic: &str,
    partition: i32,
) -> Option<(String, String, String)> {
    let output = kafka.tool(GROUPS, &["--describe", "--group", group]).await;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines().find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        (columns.len() >= 6 && columns[1] == topic && columns[2] == partition.to_string()).then(
            || {
                (
                    columns[3].to_owned(),
                    columns[4].to_owned(),
                    columns[5].to_owned(),
                )
            },
        )
    })
}

/// Deletes `topic`'s partition 0 records before `offset`, as an operator
/// would with `kafka-delete-records`.
async fn delete_records(kafka: &ApacheKafka, topic: &str, offset: i64, scratch: &str) {
    let file = std::env::temp_dir().join(format!("delete-{scratch}-{}.json", std::process::id()));
    std::fs::write(
        &file,
        format!(r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"offset":{offset}}}]}}"#),
    )
    .unwrap();
    kafka
        .tool(
            DELETE_RECORDS,
            &["--offset-json-file", file.to_str().unwrap()],
        )
        .await;
    let _ = std::fs::remove_file(file);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relays_lag_shows_in_kafkas_own_tool_and_in_its_metrics() {
    let kafka = ApacheKafka::start("lag").await;
    let mut config = common::config_at(&kafka.bootstrap);
    // The reader stops after 3 messages (as if it had stalled), and the
    // watchdog waits long enough for the lag to be read.
    config.fault_stall_consumer_after = Some(3);
    config.kafka_stall_timeout_ms = 600_000;
    let relay = Relay::launch_at(&kafka.bootstrap, config).await;
    relay.wait_ready().await;
    let producer = kafka.producer();
    for n in 0..7 {
        let id = format!("l{n}");
        producer
            .send("order.created", &id, created(&id, "alice"))
            .await;
    }
    let sample = r#"relay_kafka_partition_lag{partition="0",topic="order.created"}"#;
    eventually("the relay's metrics show 4 messages behind", || async {
        metric(&relay.metrics().await, sample) == 4.0
    })
    .await;
    eventually("kafka-consumer-groups shows the relay 4 behind", || async {
        described(&kafka, "order-relay", "order.created", 0).await
            == Some(("3".into(), "7".into(), "4".into()))
    })
    .await;
    relay.stop().await;

    // A relay that keeps up shows no lag, in both.
    let relay = Relay::start_at(&kafka.bootstrap).await;
    eventually("caught up, in the tool too", || async {
        described(&kafka, "order-relay", "order.created", 0).await
            == Some(("7".into(), "7".into(), "0".into()))
    })
    .await;
    assert_eq!(metric(&relay.metrics().await, sample), 0.0);
    relay.stop().await;
}

fn cursor_of(event: &ServerEvent) -> String {
    match event {
        ServerEvent::Order { cursor, .. } => cursor.clone(),
        ServerEvent::OrdersSnapshot(snapshot) => snapshot.cursor.clone(),
        other => panic!("no cursor on {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_deleted_under_the_relay_turn_a_cursor_that_needs_them_into_a_snapshot() {
    let kafka = ApacheKafka::start("delete-records").await;
    let relay = Relay::start_at(&kafka.bootstrap).await;
    let producer = kafka.producer();
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    producer
        .send("order.created", "d1", created("d1", "alice"))
        .await;
    let cursor = cursor_of(&alice.next().await);
    drop(alice);
    for id in ["d2", "d3"] {
        producer
            .send("order.created", id, created(id, "alice"))
            .await;
    }
    eventually("the relay read d2 and d3", || async {
        relay.orders("alice", Role::User).await.orders.len() == 3
    })
    .await;

    // d1 and d2 are deleted: the cursor after d1 needs d2, which is gone.
    delete_records(&kafka, "order.created", 2, "d").await;
    eventually("the relay saw the new log start", || async {
        // A resume now is answered by a snapshot.
        let mut alice = relay.connect("alice", Role::User).await;
        alice
            .send(&ClientEvent::SubscribeOrders {
                cursor: Some(cursor.clone()),
            })
            .await;
        match alice.next().await {
            ServerEvent::OrdersSnapshot(snapshot) => {
                let mut ids: Vec<String> =
                    snapshot.orders.iter().map(|o| o.order_id.clone()).collect();
                ids.sort();
                assert_eq!(ids, ["d1", "d2", "d3"], "the snapshot holds every order");
                true
            }
            // Still replaying from memory before the supervisor's next
            // check: the replay must be whole (d2 then d3).
            event => {
                assert_eq!(describe(&event), "order:created:d2:pending");
                assert_eq!(describe(&alice.next().await), "order:created:d3:pending");
                false
            }
        }
    })
    .await;
    assert!(
        metric(
            &relay.metrics().await,
            r#"relay_resumes_total{kind="snapshot"}"#
        ) >= 1.0
    );
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_checkpointed_records_were_deleted_starts_from_the_checkpoint() {
    let kafka = ApacheKafka::start("retention").await;
    let mut config = common::config_at(&kafka.bootstrap);
    config.checkpoint_interval_secs = 1;
    let relay = Relay::launch_at(&kafka.bootstrap, config.clone()).await;
    relay.wait_ready().await;
    let producer = kafka.producer();
    for n in 0..5 {
        let id = format!("r{n}");
        producer
            .send("order.created", &id, created(&id, "alice"))
            .await;
    }
    eventually("a checkpoint covers the five orders", || async {
        let page = relay.metrics().await;
        relay.orders("alice", Role::User).await.orders.len() == 5
            && metric(&page, "relay_checkpoints_written_total") >= 2.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    relay.stop().await;

    // Retention removes what the checkpoint covers: every order record, by
    // a short retention.ms on rolled segments, and DeleteRecords to be sure
    // of the end.
    alter_topic(&kafka, "order.created", "retention.ms=1000,segment.ms=100").await;
    delete_records(&kafka, "order.created", 5, "r").await;

    let relay = Relay::launch_at(&kafka.bootstrap, config).await;
    relay.wait_ready().await;
    let page = relay.metrics().await;
    assert_eq!(metric(&page, "relay_checkpoint_restored_orders"), 5.0);
    let mut ids: Vec<String> = relay
        .orders("alice", Role::User)
        .await
        .orders
        .iter()
        .map(|o| o.order_id.clone())
        .collect();
    ids.sort();
    assert_eq!(ids, ["r0", "r1", "r2", "r3", "r4"]);
    // And it goes on: a new order arrives.
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    producer
        .send("order.created", "r5", created("r5", "alice"))
        .await;
    assert_eq!(describe(&alice.next().await), "order:created:r5:pending");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_deleted_under_the_relay_is_an_alarm_not_a_silent_stop() {
    let kafka = ApacheKafka::start("topic-deleted").await;
    let relay = Relay::start_at(&kafka.bootstrap).await;
    kafka
        .tool(TOPICS, &["--delete", "--topic", "order.updated"])
        .await;
    eventually("/readyz says the topic is gone", || async {
        let response = reqwest::get(relay.http("/readyz")).await.unwrap();
        response.status() == 503
            && response
                .text()
                .await
                .unwrap()
                .contains("kafka topic_missing")
    })
    .await;
    let page = relay.metrics().await;
    assert!(metric(&page, r#"relay_kafka_problems_total{kind="topic_missing"}"#) >= 1.0);
    assert_eq!(metric(&page, "relay_ready"), 0.0);
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_added_while_the_relay_runs_are_read_and_old_cursors_stay_valid() {
    let kafka = ApacheKafka::start("partitions").await;
    let relay = Relay::start_at(&kafka.bootstrap).await;
    let (mut alice, _) = relay.subscribed("alice", Role::User).await;
    kafka
        .producer()
        .send("order.created", "g0", created("g0", "alice"))
        .await;
    let cursor = cursor_of(&alice.next().await);
    drop(alice);

    kafka
        .tool(
            TOPICS,
            &["--alter", "--topic", "order.created", "--partitions", "3"],
        )
        .await;
    // A producer that starts now knows the three partitions.
    let producer = kafka.producer();
    let ids: Vec<String> = (1..=9).map(|n| format!("g{n}")).collect();
    for id in &ids {
        producer
            .send("order.created", id, created(id, "alice"))
            .await;
    }
    eventually("the relay reads the new partitions", || async {
        let page = relay.metrics().await;
        page.contains(r#"relay_kafka_partition_lag{partition="2",topic="order.created"}"#)
            && relay.orders("alice", Role::User).await.orders.len() == 10
    })
    .await;

    // The cursor from before the growth resumes with exactly what came after.
    let mut alice = relay.connect("alice", Role::User).await;
    alice
        .send(&ClientEvent::SubscribeOrders {
            cursor: Some(cursor),
        })
        .await;
    let mut replayed = Vec::new();
    for _ in &ids {
        replayed.push(describe(&alice.next().await));
    }
    replayed.sort();
    let mut expected: Vec<String> = ids
        .iter()
        .map(|id| format!("order:created:{id}:pending"))
        .collect();
    expected.sort();
    assert_eq!(replayed, expected);
    producer
        .send("order.created", "g10", created("g10", "alice"))
        .await;
    assert_eq!(describe(&alice.next().await), "order:created:g10:pending");
    relay.stop().await;
}

/// Sets `configs` (`key=value,key=value`) on a topic with `kafka-configs
/// --alter`, as an operator would.
async fn alter_topic(kafka: &ApacheKafka, topic: &str, configs: &str) {
    kafka
        .tool(
            CONFIGS,
            &[
                "--alter",
                "--entity-type",
                "topics",
                "--entity-name",
                topic,
                "--add-config",
                configs,
            ],
        )
        .await;
}

/// `kafka-configs --describe`'s value of `key` for a topic.
async fn topic_config(kafka: &ApacheKafka, topic: &str, key: &str) -> Option<String> {
    let output = kafka
        .tool(
            CONFIGS,
            &[
                "--describe",
                "--entity-type",
                "topics",
                "--entity-name",
                topic,
                "--all",
            ],
        )
        .await;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace().find_map(|word| {
        word.strip_prefix(&format!("{key}="))
            .map(|value| value.to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_state_topic_keeps_what_deploy_says_and_its_retention_keeps_the_newest_checkpoint() {
    let kafka = ApacheKafka::start("state-retention").await;
    let mut config = common::config_at(&kafka.bootstrap);
    config.checkpoint_interval_secs = 1;
    let relay = Relay::launch_at(&kafka.bootstrap, config.clone()).await;
    relay.wait_ready().await;
    // As created by the relay: delete, not compact; an hour at least.
    assert_eq!(
        topic_config(&kafka, "order.state", "cleanup.policy")
            .await
            .as_deref(),
        Some("delete")
    );
    assert_eq!(
        topic_config(&kafka, "order.state", "retention.ms")
            .await
            .as_deref(),
        Some("3600000")
    );
    // The shortest retention DEPLOY allows, 3 checkpoints, on segments that
    // roll every 100 ms: old checkpoints go while the relay writes new ones.
    alter_topic(&kafka, "order.state", "retention.ms=3000,segment.ms=100").await;
    let producer = kafka.producer();
    for n in 0..8 {
        let id = format!("s{n}");
        producer
            .send("order.created", &id, created(&id, "alice"))
            .await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    eventually("retention deleted old checkpoints", || async {
        let (low, _) = common::watermarks(&kafka.bootstrap, "order.state").await;
        low > 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    relay.stop().await;

    let relay = Relay::launch_at(&kafka.bootstrap, config).await;
    relay.wait_ready().await;
    assert_eq!(
        metric(&relay.metrics().await, "relay_checkpoint_restored_orders"),
        8.0,
        "the newest checkpoint was still there"
    );
    relay.stop().await;
}
