//! Runs an HTTP function: hands each API Gateway request to its handler and the handler's response
//! back to API Gateway as built.
//!
//! The handlers build their bodies in final form: `Body::Text` for pages, scripts and replies (always
//! UTF-8), `Body::Binary` for bytes that must arrive unchanged (the attendee CSV, with its byte-order
//! mark). lambda_http's own `IntoResponse` for `Response<B>` would collect every body again and decode
//! it in the charset its content type names, through encoding_rs: a copy per response, a byte-order
//! mark dropped, and every legacy charset's tables (0.15 MB of each arm64 zip) for text that is
//! always UTF-8. [`AsBuilt`] passes the response through instead.

use std::future::Future;
use std::pin::Pin;

use lambda_http::{Body, Error, IntoResponse, Request, Response, service_fn};

/// A response handed to API Gateway exactly as the handler built it.
pub struct AsBuilt(pub Response<Body>);

impl IntoResponse for AsBuilt {
    fn into_response(self) -> Pin<Box<dyn Future<Output = Response<Body>> + Send>> {
        Box::pin(std::future::ready(self.0))
    }
}

/// Serves API Gateway HTTP API requests with `handler` until the Lambda runtime stops.
pub async fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    lambda_http::run(service_fn(|request| {
        let reply = handler(request);
        async move { Ok::<_, Error>(AsBuilt(reply.await)) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(content_type: &str, body: Body) -> Response<Body> {
        let mut response = Response::new(body);
        response
            .headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        response
    }

    #[tokio::test]
    async fn a_binary_body_with_a_text_type_keeps_every_byte_including_the_byte_order_mark() {
        let csv = b"\xEF\xBB\xBFname,phone\r\nAna,+12025550143\r\n".to_vec();
        let response = AsBuilt(with_type("text/csv", Body::Binary(csv.clone())))
            .into_response()
            .await;
        assert_eq!(response.body(), &Body::Binary(csv.clone()));
        // What lambda_http's conversion would have made of it: text, without the mark.
        let converted = with_type("text/csv", Body::Binary(csv))
            .into_response()
            .await;
        assert!(matches!(converted.body(), Body::Text(text) if !text.starts_with('\u{feff}')));
    }

    #[tokio::test]
    async fn status_headers_and_a_text_body_pass_through_unchanged() {
        let mut built = with_type(
            "text/html; charset=utf-8",
            Body::Text("<p>¡Hola!</p>".into()),
        );
        *built.status_mut() = http::StatusCode::UNPROCESSABLE_ENTITY;
        built
            .headers_mut()
            .insert("cache-control", "no-store".parse().unwrap());
        let response = AsBuilt(built).into_response().await;
        assert_eq!(response.status(), http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(response.body(), &Body::Text("<p>¡Hola!</p>".into()));
    }

    #[tokio::test]
    async fn an_empty_body_stays_empty() {
        let response = AsBuilt(Response::new(Body::Empty)).into_response().await;
        assert_eq!(response.body(), &Body::Empty);
    }
}
