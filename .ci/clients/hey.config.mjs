// @hey-api/openapi-ts: the SDK from the document at OPENAPI_URL into
// src/hey, with the .js import suffixes Node's ES modules need.
export default {
  input: process.env.OPENAPI_URL,
  output: { path: "src/hey", importFileExtension: ".js" },
};
