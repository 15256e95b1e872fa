import{r as e,t}from"./chunk-QB3YPZ4I-Cvnlcvyl.js";import"./chunk-TU62E6Q5-BKeVmbTy.js";import{xn as n}from"./mermaid.core-zS-VQoI3.js";import"./chunk-HFQBQIA3-CVhNz8xf.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};