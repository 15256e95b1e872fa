import{r as e,t}from"./chunk-QB3YPZ4I-D7hRyJjB.js";import"./chunk-TU62E6Q5-Cn6ROEEv.js";import{xn as n}from"./mermaid.core-ljW7XmRq.js";import"./chunk-HFQBQIA3-DuiafVe9.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};