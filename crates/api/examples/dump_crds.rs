fn main() {
    print!("{}", imageregistry_api::schema::crds_yaml());
}
