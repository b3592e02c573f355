import Foundation
import OCIImage

/// An image in the store: its manifest and config, and the names that point at it.
public struct StoredImage: Sendable, Equatable {
    /// The config digest (docker's image id).
    public var id: Digest
    public var manifestDigest: Digest
    public var manifest: Manifest
    public var config: ImageConfig
    public var tags: [String]
    public var created: Int64
}

extension ImageStore {
    /// Stores `config` and a manifest over `layers`, records the image and returns it.
    /// Layers must already be blobs in the store.
    public func putImage(config: ImageConfig, layers: [Descriptor]) throws(StoreError) -> StoredImage {
        let configBytes: [UInt8]
        do {
            configBytes = try CanonicalJSON.encode(config)
        } catch {
            throw .invalid("cannot encode image config: \(error)")
        }
        return try putImage(configBytes: configBytes, config: config, layers: layers)
    }

    /// Stores an image whose config bytes are given as they are (a loaded or pulled image keeps
    /// its id: the digest of those exact bytes).
    public func putImage(configBytes: [UInt8], config: ImageConfig, layers: [Descriptor]) throws(StoreError)
        -> StoredImage
    {
        let configDescriptor = try putBlob(configBytes, mediaType: MediaType.ociConfig)
        let manifest = Manifest(config: configDescriptor, layers: layers)
        let manifestBytes: [UInt8]
        do {
            manifestBytes = try CanonicalJSON.encode(manifest)
        } catch {
            throw .invalid("cannot encode manifest: \(error)")
        }
        let manifestDescriptor = try putBlob(manifestBytes, mediaType: MediaType.ociManifest)
        // An upsert, not INSERT OR REPLACE: replacing deletes the row, and the deletion cascades
        // to the image's tags (a cached rebuild tagged `b` took the same image's tag `a` away).
        try db.query(
            """
            INSERT INTO images(id, manifest_digest, created) VALUES(?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, created = excluded.created
            """,
            [
                .text(configDescriptor.digest.description), .text(manifestDescriptor.digest.description),
                .integer(Self.now),
            ])
        return StoredImage(
            id: configDescriptor.digest, manifestDigest: manifestDescriptor.digest, manifest: manifest,
            config: config, tags: try tags(of: configDescriptor.digest), created: Self.now)
    }

    /// Points `reference` at `imageID`, replacing what it pointed at before.
    public func tag(_ imageID: Digest, as reference: ImageReference) throws(StoreError) {
        try db.query(
            "INSERT OR REPLACE INTO tags(name, image_id) VALUES(?, ?)",
            [.text(reference.description), .text(imageID.description)])
    }

    /// Removes a tag; returns false when it did not exist.
    @discardableResult
    public func untag(_ reference: ImageReference) throws(StoreError) -> Bool {
        let rows = try db.query("DELETE FROM tags WHERE name = ? RETURNING name", [.text(reference.description)])
        return !rows.isEmpty
    }

    /// Finds an image by reference (`busybox`, `app:1`), full id (`sha256:…`) or id prefix.
    public func image(named name: String) throws(StoreError) -> StoredImage {
        if let reference = try? ImageReference(parsing: name),
            let row = try db.query("SELECT image_id FROM tags WHERE name = ?", [.text(reference.description)]).first,
            let id = row.text("image_id")
        {
            return try image(id: id)
        }
        var hex = name.hasPrefix("sha256:") ? String(name.dropFirst(7)) : name
        hex = hex.lowercased()
        if !hex.isEmpty, hex.count <= 64, hex.allSatisfy({ $0.isHexDigit }) {
            let rows = try db.query(
                "SELECT id FROM images WHERE id >= ? AND id < ? LIMIT 2",
                [.text("sha256:" + hex), .text("sha256:" + hex + "g")])
            if rows.count == 1, let id = rows[0].text("id") {
                return try image(id: id)
            }
            if rows.count > 1 { throw .invalid("image id prefix '\(name)' is ambiguous") }
        }
        throw .imageNotFound(name)
    }

    /// Removes an image record and its tags (its blobs and snapshots stay until a prune).
    public func deleteImage(_ id: Digest) throws(StoreError) {
        try db.query("DELETE FROM images WHERE id = ?", [.text(id.description)])
    }

    /// Deletes the image unless it has a name: checked and deleted in one statement, so a name
    /// another berth process gives it meanwhile (a build of the same Dockerfile) is never lost
    /// with it. Returns whether the image was deleted.
    @discardableResult
    public func deleteImageIfUnnamed(_ id: Digest) throws(StoreError) -> Bool {
        let rows = try db.query(
            "DELETE FROM images WHERE id = ? AND NOT EXISTS (SELECT 1 FROM tags WHERE image_id = ?) RETURNING id",
            [.text(id.description), .text(id.description)])
        return !rows.isEmpty
    }

    /// Every image with its tags, newest first.
    public func images() throws(StoreError) -> [StoredImage] {
        var result: [StoredImage] = []
        for row in try db.query("SELECT id FROM images ORDER BY created DESC, id") {
            if let id = row.text("id") { result.append(try image(id: id)) }
        }
        return result
    }

    private func image(id: String) throws(StoreError) -> StoredImage {
        guard let row = try db.query("SELECT manifest_digest, created FROM images WHERE id = ?", [.text(id)]).first,
            let manifestText = row.text("manifest_digest")
        else { throw .imageNotFound(id) }
        let imageID: Digest
        let manifestDigest: Digest
        do {
            imageID = try Digest(parsing: id)
            manifestDigest = try Digest(parsing: manifestText)
        } catch {
            throw .invalid("store database holds a malformed digest: \(error)")
        }
        let decoded: DecodedImage
        if let known = decodedImages[id], known.manifestDigest == manifestDigest {
            decoded = known
        } else {
            let manifestBytes = try readBlob(manifestDigest)
            let configBytes = try readBlob(imageID)
            do {
                decoded = DecodedImage(
                    manifestDigest: manifestDigest,
                    manifest: try CanonicalJSON.decode(
                        Manifest.self, from: manifestBytes, what: "manifest \(manifestDigest)"),
                    config: try CanonicalJSON.decode(
                        ImageConfig.self, from: configBytes, what: "image config \(imageID)"))
            } catch {
                throw .invalid(error.description)
            }
            decodedImages[id] = decoded
        }
        return StoredImage(
            id: imageID, manifestDigest: manifestDigest, manifest: decoded.manifest, config: decoded.config,
            tags: try tags(of: imageID), created: row.integer("created") ?? 0)
    }

    private func tags(of id: Digest) throws(StoreError) -> [String] {
        try db.query("SELECT name FROM tags WHERE image_id = ? ORDER BY name", [.text(id.description)])
            .compactMap { $0.text("name") }
    }
}

/// An image's manifest and config as ``ImageStore`` decoded them (kept per process: `run`
/// looks its image up when it creates the container and again when it starts it).
struct DecodedImage: Sendable {
    var manifestDigest: Digest
    var manifest: Manifest
    var config: ImageConfig
}
