//! Tests of the push planner.
