// Starts the NHS.UK frontend library's components (the header's "More" menu on narrow screens, the error summary
// taking the focus, the skip link), and marks the page as one they run on, as the library expects.
import { initAll } from "/static/nhsuk-frontend-10.6.1.min.js";
document.body.classList.add("nhsuk-frontend-supported");
initAll();
