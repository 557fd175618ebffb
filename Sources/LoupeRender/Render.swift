// LoupeRender
