//! Integration test harness lives in integration/.
