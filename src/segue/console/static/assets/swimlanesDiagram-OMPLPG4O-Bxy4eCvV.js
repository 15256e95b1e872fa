import{r as e,t}from"./chunk-QB3YPZ4I-C44T2n2R.js";import"./chunk-TU62E6Q5-DSf2LYtT.js";import{xn as n}from"./mermaid.core-CzvVl1f9.js";import"./chunk-HFQBQIA3-gJ7ReXA2.js";var r=t({styles:n(t=>`${e(t)}
  .swimlane.cluster:not([data-color-id]) rect {
    stroke: ${t.clusterBorder} !important;
  }
  [data-look="neo"].cluster rect {
    filter: none;
  }
`,`getStyles`)});export{r as diagram};