//! Wards and departments.

use remit_domain::place::{Place, PlaceCode, PlaceKind};

use crate::db::query;
use crate::error::on_unique;
use crate::{Result, Store, StoreError, WriteTx, col, stored};

impl Store {
    pub async fn places(&self) -> Result<Vec<Place>> {
        let rows = query("SELECT code, name, kind FROM place ORDER BY code")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Place {
                    code: stored("place", PlaceCode::parse(&col::<String>(r, "code")?))?,
                    name: col(r, "name")?,
                    kind: stored("place kind", PlaceKind::parse(&col::<String>(r, "kind")?))?,
                })
            })
            .collect()
    }

    pub async fn place(&self, code: &PlaceCode) -> Result<Place> {
        self.places()
            .await?
            .into_iter()
            .find(|p| &p.code == code)
            .ok_or_else(|| StoreError::NotFound(format!("no place `{code}`")))
    }
}

impl WriteTx {
    pub async fn insert_place(&mut self, p: &Place) -> Result<()> {
        query("INSERT INTO place (code, name, kind) VALUES ($1, $2, $3)")
            .bind(p.code.as_str())
            .bind(&p.name)
            .bind(p.kind.as_str())
            .execute(self.conn())
            .await
            .map_err(|e| on_unique(e, || format!("place `{}` already exists", p.code)))?;
        Ok(())
    }
}
