// Spin HTTP component in JavaScript. @spinframework/wasi-http-proxy makes the
// component export wasi:http/incoming-handler; ComponentizeJS (StarlingMonkey)
// delivers each incoming request as a service-worker style "fetch" event.
addEventListener('fetch', (event) => {
  event.respondWith(handle(event.request));
});

async function handle(_request) {
  return new Response('Hello from JS!', {
    status: 200,
    headers: { 'content-type': 'text/plain' },
  });
}
