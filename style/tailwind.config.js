/** Tailwind scans the Rust views for class names. */
module.exports = {
  content: ["../app/src/**/*.rs"],
  theme: { extend: {} },
  plugins: [],
};
