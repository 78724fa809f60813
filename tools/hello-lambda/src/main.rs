//! `hello-lambda`: a `lambda_http` function that answers 200 "hello" and does nothing else. The
//! cold-start benchmark (`tools/bench`, `cold_start`) measures every function's init beside
//! this one's, built with the same profile: the difference is what the function itself adds.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
