//! Publishing order events at a set rate. Each order id carries its publish
//! time (`<tag>-<seq>-<unix micros>`), so a receiver measures publish →
//! receive latency without clock sharing beyond this machine's.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::ClientConfig;

pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub fn producer(kafka: &str) -> anyhow::Result<ThreadedProducer<DefaultProducerContext>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", kafka)
        .set("broker.address.family", "v4")
        .set("linger.ms", "1")
        .set("socket.nagle.disable", "true")
        .set("queue.buffering.max.messages", "1000000")
        .create()?)
}

/// The `order.created` value for one benchmark event.
pub fn created(tag: &str, seq: u64, buyer: &str) -> (String, String) {
    let id = format!("{tag}-{seq}-{}", now_micros());
    let json = format!(
        r#"{{"orderId":"{id}","buyerId":"{buyer}","items":[{{"productId":"p1","name":"Mug","quantity":1,"price":4.5}}],"subtotal":4.5,"tax":0.45,"total":4.95,"status":"pending","createdAt":"2025-11-12T10:30:00.000Z"}}"#
    );
    (id, json)
}

/// Publishes `order.created` events for users `u0..users` round-robin at
/// `rate` per second (0: as fast as the producer queue takes them) for
/// `duration`; returns how many were published.
pub async fn run(
    kafka: &str,
    users: usize,
    rate: u64,
    duration: Duration,
    tag: &str,
) -> anyhow::Result<u64> {
    let producer = producer(kafka)?;
    let started = Instant::now();
    let mut sent = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while started.elapsed() < duration {
        tick.tick().await;
        let due = if rate == 0 {
            sent + 1000
        } else {
            (started.elapsed().as_secs_f64() * rate as f64) as u64
        };
        while sent < due {
            let buyer = format!("u{}", sent as usize % users);
            let (id, json) = created(tag, sent, &buyer);
            match producer.send(BaseRecord::to("order.created").key(&id).payload(&json)) {
                Ok(()) => sent += 1,
                Err(_) => break, // queue full: try again next tick
            }
        }
    }
    producer.flush(Duration::from_secs(30))?;
    Ok(sent)
}

/// Publishes `orders` orders of three events each (created, then moved to
/// processing and to shipped: open orders, which a relay keeps) as fast as
/// the broker takes them, for the start-up benchmark. Returns the events
/// published.
pub fn fill(kafka: &str, orders: u64, users: u64) -> anyhow::Result<u64> {
    let producer = producer(kafka)?;
    let mut sent = 0u64;
    let mut send = |topic: &str, key: &str, json: &str| -> anyhow::Result<()> {
        let mut record = BaseRecord::to(topic).key(key).payload(json);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    // Queue full: let the broker catch up.
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
        sent += 1;
        Ok(())
    };
    for i in 0..orders {
        let id = format!("s-{i:08}");
        let buyer = format!("u{}", i % users);
        let created = format!(
            r#"{{"orderId":"{id}","buyerId":"{buyer}","items":[{{"productId":"p1","name":"Mug","quantity":1,"price":4.5}}],"subtotal":4.5,"tax":0.45,"total":4.95,"status":"pending","createdAt":"2025-11-12T10:30:00.000Z"}}"#
        );
        send("order.created", &id, &created)?;
        for (status, minute) in [("processing", 31), ("shipped", 32)] {
            let update = format!(
                r#"{{"orderId":"{id}","buyerId":"{buyer}","status":"{status}","updatedAt":"2025-11-12T10:{minute}:00.000Z"}}"#
            );
            send("order.updated", &id, &update)?;
        }
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(sent)
}
