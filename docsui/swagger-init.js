// Swagger UI on the service's own document, as FastAPI sets it up: Try it
// out, and Authorize for the bearer token when the service requires one.
// No validator badge (it would send the document to another host).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
});
