// The classic Express "books API" example (Express 5), as a load-test reference point.
//
// Exists only for infra/bench: a long-running Node.js server with the data in memory
// and no AWS in the path, so the Lambda functions' numbers (Rust, and catalog.mjs /
// ../python/catalog.py under their runtime interface clients) can be read against
// what a plain web server on this machine does. Not part of the Bookish API.
//
//   GET /books      -> 200, both books
//   GET /books/:id  -> 200, one book; 404 {"error": ...} for an unknown id
//
// Listens on 127.0.0.1 and the port in env PORT. Run, cwd infra/bench/node:
//   PORT=9059 node express.mjs

import express from "express";

const books = [
  { id: "1", title: "1984", author: "George Orwell", price: { amount: 999, currency: "USD" } },
  { id: "2", title: "Animal Farm", author: "George Orwell", price: { amount: 899, currency: "USD" } },
];

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  throw new Error("set PORT to the port to listen on");
}

// Express defaults left as they are (ETag, X-Powered-By): the reference is the stock app.
const app = express();

app.get("/books", (req, res) => {
  res.json(books);
});

app.get("/books/:id", (req, res) => {
  const book = books.find((b) => b.id === req.params.id);
  if (!book) {
    res.status(404).json({ error: `There is no book with id '${req.params.id}'.` });
    return;
  }
  res.json(book);
});

const server = app.listen(port, "127.0.0.1", (err) => {
  if (err) throw err;
  console.log(`express books example listening on http://127.0.0.1:${port}`);
});

// Stop cleanly when the bench harness is done with it.
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
