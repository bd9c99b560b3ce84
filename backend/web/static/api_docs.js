// Swagger UI on the node's own spec; kept out of the page so the CSP needs no inline script.
const root = document.getElementById("swagger-ui");
window.ui = window.SwaggerUIBundle({ url: root.dataset.specUrl, domNode: root, deepLinking: true, tryItOutEnabled: false });
