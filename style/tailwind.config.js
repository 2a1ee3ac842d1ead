/** Tailwind scans the Rust views for class names. */
module.exports = {
  content: ["../app/src/**/*.rs"],
  // Dark follows the system unless the person chose (html data-theme="light" or "dark").
  darkMode: [
    "variant",
    [
      "@media (prefers-color-scheme: dark) { &:not(:where([data-theme=light], [data-theme=light] *)) }",
      "&:where([data-theme=dark], [data-theme=dark] *)",
    ],
  ],
  theme: { extend: {} },
  plugins: [],
};
