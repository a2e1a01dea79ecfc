use ssekit::EventType;

const PING: EventType = EventType::from_static("ping\n");

fn main() {
    let _ = ssekit::Event::new("x").event(PING);
}
