use futures_util::stream;

fn main() {
    let _ = ssekit::ChunkedBody::html(stream::iter([1u8, 2, 3]));
}
