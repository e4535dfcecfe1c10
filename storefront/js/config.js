// config.json sits beside index.html: written by the local stack (infra/stack.py) or by
// `make publish-storefront` from the AWS stack's outputs. Same code in both places.
const response = await fetch(new URL("../config.json", import.meta.url), { cache: "no-cache" });
if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
const loaded = await response.json();

export const config = {
  ...loaded,
  apiUrl: loaded.apiUrl.replace(/\/+$/, ""),
  cognitoEndpoint: loaded.cognitoEndpoint || `https://cognito-idp.${loaded.region}.amazonaws.com/`,
};
